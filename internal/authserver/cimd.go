package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/bound"
)

// Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): a public
// client's client_id is an https URL whose document lists its name and redirect URIs.
// Gatehouse fetches it through the safe dialer, at most MaxClientDocBytes, and keeps it
// for ClientDocTTL.

// MaxClientDocBytes bounds a client ID metadata document.
const MaxClientDocBytes = 64 << 10

// ClientDocTTL is how long a fetched document is used before it is fetched again.
const ClientDocTTL = 5 * time.Minute

// maxCachedDocs bounds the cache; past it, expired entries go, then all of them.
const maxCachedDocs = 1024

// ClientDoc is the part of a client ID metadata document Gatehouse reads.
type ClientDoc struct {
	ClientID     string   `json:"client_id"`
	ClientName   string   `json:"client_name"`
	RedirectURIs []string `json:"redirect_uris"`
}

type cimdEntry struct {
	doc     *ClientDoc
	expires time.Time
}

type cimdCache struct {
	hc  *http.Client
	now func() time.Time
	mu  sync.Mutex
	m   map[string]cimdEntry
}

func newCIMDCache(hc *http.Client, now func() time.Time) *cimdCache {
	return &cimdCache{hc: hc, now: now, m: map[string]cimdEntry{}}
}

// CheckClientID says why a client_id cannot be a client ID metadata document URL, or nil.
func CheckClientID(id string) error {
	if len(id) > maxParam {
		return errors.New("client_id is longer than 2048 bytes")
	}
	u, err := url.Parse(id)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return errors.New("client_id must be an https URL (a client ID metadata document)")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(id, "#") {
		return errors.New("client_id must not carry user info or a fragment")
	}
	if u.Path == "" || u.Path == "/" {
		return errors.New("client_id must have a path")
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("client_id must not have dot segments")
		}
	}
	return nil
}

// get returns the client's document, from the cache or fetched. An *AuthorizeError says
// what is wrong with it in words the user may see.
func (c *cimdCache) get(ctx context.Context, id string) (*ClientDoc, error) {
	if id == CLIClientID { // issue 12: the CLI's document is built in
		return &cliDoc, nil
	}
	if err := CheckClientID(id); err != nil {
		return nil, &AuthorizeError{Code: "invalid_client", Description: err.Error()}
	}
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.doc, nil
	}
	doc, err := c.fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedDocs {
		for k, v := range c.m {
			if !now.Before(v.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCachedDocs {
			clear(c.m)
		}
	}
	c.m[id] = cimdEntry{doc: doc, expires: now.Add(ClientDocTTL)}
	c.mu.Unlock()
	return doc, nil
}

func (c *cimdCache) fetch(ctx context.Context, id string) (*ClientDoc, error) {
	if c.hc == nil {
		return nil, errors.New("no HTTP client for client metadata documents")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, id, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch client metadata document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &AuthorizeError{Code: "invalid_client", Description: fmt.Sprintf("the client's metadata document answered HTTP %d", resp.StatusCode)}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxClientDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read client metadata document: %w", err)
	}
	return ParseClientDoc(id, raw)
}

// ParseClientDoc parses and checks a client ID metadata document fetched from id: at
// most MaxClientDocBytes of JSON whose client_id is id exactly, with redirect URIs that
// are https, or http on a loopback address (RFC 8252 §7.3).
func ParseClientDoc(id string, raw []byte) (*ClientDoc, error) {
	bad := func(desc string) error { return &AuthorizeError{Code: "invalid_client", Description: desc} }
	if len(raw) > MaxClientDocBytes {
		return nil, bad("the client's metadata document is larger than 64 KiB")
	}
	var doc ClientDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, bad("the client's metadata document is not a JSON object of the expected shape")
	}
	if doc.ClientID != id {
		return nil, bad("the client's metadata document names another client_id than its URL")
	}
	if len(doc.RedirectURIs) == 0 || len(doc.RedirectURIs) > 64 {
		return nil, bad("the client's metadata document must list 1 to 64 redirect_uris")
	}
	for _, r := range doc.RedirectURIs {
		if !redirectURIShapeOK(r) {
			return nil, bad("the client's metadata document lists a redirect URI that is neither https nor http on loopback: " + safeName(r))
		}
	}
	doc.ClientName = bound.Truncate(doc.ClientName, 128)
	return &doc, nil
}

func redirectURIShapeOK(r string) bool {
	if len(r) > maxParam {
		return false
	}
	u, err := url.Parse(r)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || strings.Contains(r, "#") {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return isLoopbackHost(u.Hostname())
	}
	return false
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// redirectAllowed reports whether the requested redirect URI is one of the registered
// ones: exactly, or, for http on loopback, with any port (RFC 8252 §7.3).
func redirectAllowed(registered []string, got string) bool {
	if !redirectURIShapeOK(got) {
		return false
	}
	gu, _ := url.Parse(got)
	for _, r := range registered {
		if r == got {
			return true
		}
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || gu.Scheme != "http" || !isLoopbackHost(ru.Hostname()) {
			continue
		}
		if ru.Hostname() == gu.Hostname() && ru.EscapedPath() == gu.EscapedPath() && ru.RawQuery == gu.RawQuery {
			return true
		}
	}
	return false
}
