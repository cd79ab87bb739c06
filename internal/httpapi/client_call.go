package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// ErrorCodeHeader marks a response that Gatehouse itself produced (a refusal, or an
// upstream that could not be reached), carrying its error_code. Upstream X-Gatehouse-*
// headers are stripped by the proxy, so an upstream cannot forge it.
const ErrorCodeHeader = "X-Gatehouse-Error-Code"

// Call sends a request through the transparent proxy of the connection and returns the
// upstream's response as it is; the caller closes its body. path may carry a query
// ("/search?q=x"). A response that Gatehouse produced itself is returned as *APIError.
func (c *Client) Call(ctx context.Context, conn, method, path string, header http.Header, body io.Reader) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := c.baseURL + "/api/2.0/unity-catalog/connections/" + url.PathEscape(conn) + "/proxy" + path
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("call %s %s: %w", method, path, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("User-Agent", clientUserAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.Header.Get(ErrorCodeHeader) != "" {
		defer resp.Body.Close()
		return nil, c.readError(resp)
	}
	return resp, nil
}
