package federation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity/federation"
)

// FuzzVerify feeds arbitrary JWTs and JWKS to the parsing path: it never panics, never
// accepts a token the key set cannot have signed, and never quotes the token in the
// caller's description.
func FuzzVerify(f *testing.F) {
	r1, _, ec := keys(&testing.T{})
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{r1.jwk(), ec.jwk()}})
	f.Add("eyJhbGciOiJub25lIn0.e30.", string(set))
	f.Add("a.b.c", `{"keys":[{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB"}]}`)
	f.Add(`eyJhbGciOiJSUzI1NiIsImtpZCI6InJzYS0xIn0.eyJpc3MiOiJodHRwczovL3AifQ.AAAA`, string(set))
	f.Fuzz(func(t *testing.T, token, jwks string) {
		_, _ = federation.ParseJWKS([]byte(jwks))
		pol := &catalog.FederationPolicy{ID: "p", Issuer: "https://p", Audiences: []string{"a"}, Subject: "s", JWKSJSON: jwks}
		x := federation.New(&fakeStore{}, federation.Options{Now: func() time.Time { return time.Unix(1_700_000_000, 0) },
			HTTPClient: &http.Client{Transport: noNetwork{}}})
		v, ge := x.Verify(context.Background(), token, []*catalog.FederationPolicy{pol})
		if v != nil {
			// Only a signature by a key of the set can pass, and the fuzzer holds no
			// private key (the set's keys are RSA ≥ 2048 bits or P-256): a pass is a forgery.
			t.Fatalf("a fuzzed token verified: %q", token)
		}
		if len(token) > 8 && strings.Contains(ge.Description, token) {
			t.Fatal("description quotes the token")
		}
	})
}

// noNetwork refuses every request: a policy without jwks_json must not reach out while
// fuzzing.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in the fuzz target")
}
