package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// decodeJSON reads one JSON object from r into v. Unknown fields, trailing data, wrong
// types and malformed JSON are 400s that say where the problem is; an oversized body is
// a 413. The message never quotes values, which may be secrets.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var (
			mbe *http.MaxBytesError
			ce  *catalog.Error
		)
		if errors.As(err, &mbe) || errors.As(err, &ce) {
			return err
		}
		return catalog.Errorf(catalog.InvalidParameterValue, "request body must hold exactly one JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
		ce  *catalog.Error // from the body reader: a body that stalled (408)
	)
	switch {
	case errors.As(err, &mbe), errors.As(err, &ce):
		return err
	case errors.Is(err, io.EOF):
		return catalog.Errorf(catalog.InvalidParameterValue, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return catalog.Errorf(catalog.InvalidParameterValue, "malformed JSON: the body ends too early")
	case errors.As(err, &syn):
		return catalog.Errorf(catalog.InvalidParameterValue, "malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return catalog.Errorf(catalog.InvalidParameterValue, "request body must be a JSON object, not %s", typ.Value)
		}
		return catalog.Errorf(catalog.InvalidParameterValue, "field %s: expected %s, got %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if len(name) > 66 {
			name = name[:66] + "…\""
		}
		return catalog.Errorf(catalog.InvalidParameterValue, "unknown field %s", name)
	}
	return catalog.Errorf(catalog.InvalidParameterValue, "malformed JSON: %s", describeDecodeError(err))
}

func jsonKind(k string) string {
	switch k {
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "a value"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	}
	return "a " + k
}

// describeDecodeError keeps the decoder's own words but cuts them short; they describe
// structure, not values.
func describeDecodeError(err error) string {
	s := strings.TrimPrefix(err.Error(), "json: ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// requireJSON checks that a request with a body says it is JSON (or says nothing).
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") && !strings.EqualFold(strings.TrimSpace(mt), "application/scim+json") {
		return catalog.Errorf(catalog.InvalidParameterValue, "Content-Type must be application/json")
	}
	return nil
}

func decodeBody(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	if err := decodeJSON(r.Body, v); err != nil {
		return err
	}
	return nil
}
