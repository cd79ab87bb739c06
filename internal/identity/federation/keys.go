package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Bounds and timings of key fetching.
const (
	// MaxDocumentBytes caps a discovery document or a JWKS read from an issuer, and a
	// policy's jwks_json.
	MaxDocumentBytes = 256 << 10
	// MaxKeys caps the keys of one JWKS.
	MaxKeys = 64
	// KeyTTL is how long an issuer's fetched keys are used before they are fetched again.
	KeyTTL = 5 * time.Minute
	// MinRefetch is the least time between two fetches of one issuer's keys: an unknown
	// kid refetches once, never more often than this.
	MinRefetch = 5 * time.Second
)

// ParseJWKS reads a JSON Web Key Set and checks that it holds only public keys usable
// with RS256 (RSA, at least 2048 bits) or ES256 (EC P-256), each with a kid. The error
// names the key that is refused, never its material.
func ParseJWKS(data []byte) (*jose.JSONWebKeySet, error) {
	if len(data) > MaxDocumentBytes {
		return nil, fmt.Errorf("the key set is larger than %d bytes", MaxDocumentBytes)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, errors.New("the key set is not a valid JWKS (a JSON object with a keys array of JSON Web Keys)")
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set holds no keys")
	}
	if len(set.Keys) > MaxKeys {
		return nil, fmt.Errorf("the key set holds more than %d keys", MaxKeys)
	}
	for i, k := range set.Keys {
		if k.KeyID == "" {
			return nil, fmt.Errorf("key %d has no kid", i)
		}
		if !k.IsPublic() {
			return nil, fmt.Errorf("key %q is a private or symmetric key; only public keys may be given", k.KeyID)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("key %q has use %q; only signing keys (sig) are used", k.KeyID, k.Use)
		}
		if _, err := keyAlg(k); err != nil {
			return nil, fmt.Errorf("key %q: %w", k.KeyID, err)
		}
	}
	return &set, nil
}

// keyAlg is the one algorithm a key may verify: RS256 for RSA, ES256 for EC P-256. A
// key that names another alg is refused.
func keyAlg(k jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	var alg jose.SignatureAlgorithm
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < 2048 {
			return "", errors.New("RSA keys must be at least 2048 bits")
		}
		alg = jose.RS256
	case *ecdsa.PublicKey:
		if pk.Curve != elliptic.P256() {
			return "", errors.New("EC keys must be on P-256 (ES256)")
		}
		alg = jose.ES256
	default:
		return "", errors.New("only RSA (RS256) and EC P-256 (ES256) public keys are accepted")
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return "", fmt.Errorf("alg %q is not allowed; use RS256 or ES256", k.Algorithm)
	}
	return alg, nil
}

// KeySource finds an issuer's keys: its discovery document
// (/.well-known/openid-configuration) names jwks_uri, which must share the issuer's
// origin, and the JWKS there is cached for KeyTTL. It is safe for concurrent use.
type KeySource struct {
	hc  *http.Client
	now func() time.Time

	mu      sync.Mutex
	issuers map[string]*issuerKeys
}

type issuerKeys struct {
	mu        sync.Mutex // held while fetching
	set       *jose.JSONWebKeySet
	fetchedAt time.Time // last successful fetch
	triedAt   time.Time // last attempt
	lastErr   error
}

// NewKeySource returns a KeySource that fetches through hc (which must dial through
// the network policy's safe dialer and never follow redirects) and reads time from now
// (nil: time.Now).
func NewKeySource(hc *http.Client, now func() time.Time) *KeySource {
	if now == nil {
		now = time.Now
	}
	return &KeySource{hc: hc, now: now, issuers: make(map[string]*issuerKeys)}
}

// maxIssuers bounds the cache: policies name issuers, and admins make policies, so the
// bound is generous; past it the cache starts afresh.
const maxIssuers = 4096

// Keys returns the keys of issuer. With refresh set (the token named a kid the cached
// set lacks) the keys are fetched again, unless they were fetched less than MinRefetch
// ago.
func (s *KeySource) Keys(ctx context.Context, issuer string, refresh bool) (*jose.JSONWebKeySet, error) {
	s.mu.Lock()
	e := s.issuers[issuer]
	if e == nil {
		if len(s.issuers) >= maxIssuers {
			s.issuers = make(map[string]*issuerKeys)
		}
		e = &issuerKeys{}
		s.issuers[issuer] = e
	}
	s.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.now()
	fresh := e.set != nil && now.Sub(e.fetchedAt) < KeyTTL
	if fresh && !refresh {
		return e.set, nil
	}
	if !e.triedAt.IsZero() && now.Sub(e.triedAt) < MinRefetch {
		if e.set != nil {
			return e.set, nil
		}
		return nil, e.lastErr
	}
	e.triedAt = now
	// The caller going away must not leave a failed fetch behind for MinRefetch: the
	// fetch runs to its own timeout.
	set, err := s.fetch(context.WithoutCancel(ctx), issuer)
	if err != nil {
		e.lastErr = err
		if e.set != nil && now.Sub(e.fetchedAt) < 2*KeyTTL {
			return e.set, nil // a short outage of the issuer keeps its recent keys
		}
		return nil, err
	}
	e.set, e.fetchedAt, e.lastErr = set, now, nil
	return set, nil
}

func (s *KeySource) fetch(ctx context.Context, issuer string) (*jose.JSONWebKeySet, error) {
	iu, err := url.Parse(issuer)
	if err != nil || iu.Host == "" {
		return nil, fmt.Errorf("issuer %q is not a URL", issuer)
	}
	discovery := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	body, err := s.get(ctx, discovery)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("discovery: %s is not a JSON document", discovery)
	}
	if doc.Issuer != issuer {
		return nil, fmt.Errorf("discovery: the document names issuer %q, not %q", doc.Issuer, issuer)
	}
	ju, err := url.Parse(doc.JWKSURI)
	if err != nil || ju.Host == "" {
		return nil, errors.New("discovery: jwks_uri is missing or not a URL")
	}
	if ju.User != nil {
		// As an issuer may not (governance refuses it): they would reach the log.
		return nil, fmt.Errorf("discovery: jwks_uri %s carries credentials", ju.Redacted())
	}
	if !strings.EqualFold(ju.Scheme, iu.Scheme) || !strings.EqualFold(ju.Host, iu.Host) {
		return nil, fmt.Errorf("discovery: jwks_uri %s is not on the issuer's origin", doc.JWKSURI)
	}
	body, err = s.get(ctx, ju.String())
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	set, err := ParseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("jwks at %s: %w", ju.Redacted(), err)
	}
	return set, nil
}

func (s *KeySource) get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %d", u, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		mt, _, _ := mime.ParseMediaType(ct)
		if mt != "application/json" && mt != "application/jwk-set+json" && !strings.HasSuffix(mt, "+json") {
			return nil, fmt.Errorf("get %s: content type %q is not JSON", u, mt)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", u, err)
	}
	if len(body) > MaxDocumentBytes {
		return nil, fmt.Errorf("get %s: larger than %d bytes", u, MaxDocumentBytes)
	}
	return body, nil
}
