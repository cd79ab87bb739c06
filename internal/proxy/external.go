package proxy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// externalFunction is the body of POST /api/2.0/external-function; its JSON is that of
// httpapi.ExternalFunctionRequest.
type externalFunction struct {
	ConnectionName string          `json:"connection_name"`
	Method         string          `json:"method"`
	Path           string          `json:"path"`
	Headers        json.RawMessage `json:"headers"`
	Params         json.RawMessage `json:"params"`
	JSON           json.RawMessage `json:"json"`
	Body           string          `json:"body"`
}

// externalMethods are the methods an external function may use.
var externalMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

// ParseExternalFunction decodes and validates the body of POST
// /api/2.0/external-function into the connection's name and the call to forward.
//
// Fields: connection_name, method (GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS, in
// any case) and path (starting with "/", escaped as needed, without '?' or '#': the
// query goes in params) are required. headers and params are JSON objects of strings,
// or JSON-encoded strings of one; params become the query, sorted by name. json is any
// JSON value, or a JSON-encoded string of one (a string whose content is valid JSON is
// read as such; any other string is sent as a JSON string); it is sent as the body with
// Content-Type application/json unless headers set one. body is standard base64 and
// excludes json.
//
// Every error is a *catalog.Error INVALID_PARAMETER_VALUE that names the field and
// quotes no header value and no body content.
func ParseExternalFunction(body []byte) (connection string, c Call, err error) {
	var req externalFunction
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", Call{}, decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", Call{}, invalid("the request body must hold exactly one JSON object")
	}

	if req.ConnectionName == "" {
		return "", Call{}, invalid("connection_name is required")
	}
	if req.Method == "" {
		return "", Call{}, invalid("method is required")
	}
	method := strings.ToUpper(req.Method)
	if !externalMethods[method] {
		return "", Call{}, invalid("method must be one of GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS")
	}
	if req.Path == "" {
		return "", Call{}, invalid("path is required")
	}
	if req.Path[0] != '/' {
		return "", Call{}, invalid(`path must start with "/"`)
	}
	if strings.ContainsAny(req.Path, "?#") {
		return "", Call{}, invalid("path must not contain '?' or '#': put query parameters in params")
	}
	path, err := CleanPath(req.Path)
	if err != nil {
		return "", Call{}, err
	}

	headers, err := stringMap("headers", req.Headers)
	if err != nil {
		return "", Call{}, err
	}
	h := make(http.Header, len(headers)+1)
	for k, v := range headers {
		if !validHeaderName(k) {
			return "", Call{}, invalid("headers: a header name is not a valid HTTP token")
		}
		if !validHeaderValue(v) {
			return "", Call{}, invalid("headers: the value of " + http.CanonicalHeaderKey(k) + " contains control characters")
		}
		h.Add(k, v)
	}

	params, err := stringMap("params", req.Params)
	if err != nil {
		return "", Call{}, err
	}
	q := make(url.Values, len(params))
	for k, v := range params {
		q.Set(k, v)
	}

	c = Call{Method: method, Path: path, RawQuery: q.Encode(), Header: h, ContentLength: 0}
	jsonBody, hasJSON, err := jsonValue(req.JSON)
	if err != nil {
		return "", Call{}, err
	}
	switch {
	case hasJSON && req.Body != "":
		return "", Call{}, invalid("json and body are exclusive: send one of them")
	case hasJSON:
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		c.Body, c.ContentLength = bytes.NewReader(jsonBody), int64(len(jsonBody))
	case req.Body != "":
		raw, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return "", Call{}, invalid("body must be standard base64")
		}
		c.Body, c.ContentLength = bytes.NewReader(raw), int64(len(raw))
	}
	return req.ConnectionName, c, nil
}

func invalid(msg string) *catalog.Error {
	return &catalog.Error{Code: catalog.InvalidParameterValue, Message: msg}
}

// absent reports whether a raw field was left out or null.
func absent(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// unquote returns the content of raw if it is a JSON string; ok is false otherwise.
func unquote(field string, raw json.RawMessage) (content []byte, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return nil, false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, false, invalid(field + " is not a valid JSON string")
	}
	return bytes.TrimSpace([]byte(s)), true, nil
}

// stringMap decodes a JSON object of strings, or a JSON-encoded string of one.
func stringMap(field string, raw json.RawMessage) (map[string]string, error) {
	if absent(raw) {
		return nil, nil
	}
	if content, ok, err := unquote(field, raw); err != nil {
		return nil, err
	} else if ok {
		if len(content) == 0 {
			return nil, nil
		}
		raw = content
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, invalid(field + " must be a JSON object of strings, or a JSON-encoded string of one")
	}
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) {
			return nil, invalid(field + ": every value must be a string")
		}
		return nil, invalid(field + " is not valid JSON")
	}
	return m, nil
}

// jsonValue returns the body to send for the json field.
func jsonValue(raw json.RawMessage) (body []byte, ok bool, err error) {
	if absent(raw) {
		return nil, false, nil
	}
	content, isString, err := unquote("json", raw)
	if err != nil {
		return nil, false, err
	}
	if isString && len(content) > 0 && json.Valid(content) {
		return content, true, nil
	}
	// Any other value, a plain string included, is sent as it was written.
	return bytes.TrimSpace(raw), true, nil
}

// decodeError describes a decoding failure by its place, never by the text around it.
func decodeError(err error) *catalog.Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, io.EOF):
		return invalid("the request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("malformed JSON: the body ends too early")
	case errors.As(err, &syn):
		return catalog.Errorf(catalog.InvalidParameterValue, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return invalid("the request body must be a JSON object")
		}
		return catalog.Errorf(catalog.InvalidParameterValue, "field %s must be a string", fieldName(typ.Field))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return catalog.Errorf(catalog.InvalidParameterValue, "unknown field %s", fieldName(strings.TrimPrefix(err.Error(), "json: unknown field ")))
	}
	return invalid("malformed JSON")
}

// fieldName cuts a field name short for a message.
func fieldName(s string) string {
	if len(s) > 66 {
		return s[:66] + "…"
	}
	return s
}
