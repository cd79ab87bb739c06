package oauth_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/internal/oauth"
)

// refusalServer answers every token request with status and body, and serves
// metadata listing methods (a JSON list body; "" serves none, "-" no metadata at all).
func refusalServer(status int, body, methods string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		case "/.well-known/oauth-authorization-server":
			if methods == "-" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			list := ""
			if methods != "" {
				list = `,"token_endpoint_auth_methods_supported":[` + methods + `]`
			}
			fmt.Fprintf(w, `{"issuer":"https://%s","token_endpoint":"https://%s/token"%s}`, r.Host, r.Host, list)
		default:
			http.NotFound(w, r)
		}
	})
}

// TestClientAuthRefusalsNameTheOption: every refusal about client authentication, in
// each usual wording, names oauth_credential_exchange_method, the method sent and the
// methods the metadata lists (or that there is none); refusals about something else
// do not.
func TestClientAuthRefusalsNameTheOption(t *testing.T) {
	const both = `"client_secret_basic","client_secret_post"`
	for _, tc := range []struct {
		name    string
		status  int
		body    string
		methods string
		method  oauth.ExchangeMethod
		want    []string // all in the message; nil: the option is not named
	}{
		{"invalid_client, both listed", 401, `{"error":"invalid_client"}`, both, oauth.ExchangeBodyOnly,
			[]string{"Gatehouse sent body_only", "lists client_secret_basic (header_only), client_secret_post (body_only)"}},
		{"unauthorized_client, basic listed", 400, `{"error":"unauthorized_client","error_description":"client not allowed"}`, `"client_secret_basic"`, oauth.ExchangeBodyOnly,
			[]string{"Gatehouse sent body_only", "lists client_secret_basic (header_only)", "header_only matches that"}},
		{"one mechanism, no metadata", 400, `{"error":"invalid_request","error_description":"client authentication must only be provided using one mechanism"}`, "-", "",
			[]string{"Gatehouse sent header_and_body", "publishes no metadata", "try body_only or header_only"}},
		{"multiple authentication, post listed", 400, `{"error":"invalid_request","error_description":"Multiple client authentication methods were used"}`, `"client_secret_post"`, "",
			[]string{"Gatehouse sent header_and_body", "lists client_secret_post (body_only)", "body_only matches that"}},
		{"client_secret_basic named", 400, `{"error":"invalid_request","error_description":"only client_secret_basic is allowed"}`, "-", oauth.ExchangeBodyOnly,
			[]string{"Gatehouse sent body_only", "publishes no metadata"}},
		{"authentication method", 400, `{"error":"invalid_request","error_description":"unsupported authentication method"}`, `"private_key_jwt"`, oauth.ExchangeHeaderOnly,
			[]string{"Gatehouse sent header_only", "lists private_key_jwt"}},
		{"more than one mechanism", 400, `{"error":"invalid_request","error_description":"more than one mechanism for authenticating the client"}`, "", "",
			[]string{"Gatehouse sent header_and_body", "lists no token_endpoint_auth_methods_supported"}},
		{"codeless 401", 401, `{}`, "-", oauth.ExchangeHeaderOnly,
			[]string{"Gatehouse sent header_only", "publishes no metadata"}},
		{"invalid_request about a parameter", 400, `{"error":"invalid_request","error_description":"missing grant_type"}`, both, "", nil},
		{"invalid_scope", 400, `{"error":"invalid_scope","error_description":"unknown scope"}`, both, "", nil},
		{"invalid_grant", 400, `{"error":"invalid_grant","error_description":"authentication of the user expired"}`, both, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := tlsServer(t, refusalServer(tc.status, tc.body, tc.methods))
			cfg := cfgFor(srv)
			cfg.Method = tc.method
			_, err := c.ClientCredentials(context.Background(), cfg)
			e := asError(t, err)
			msg := err.Error()
			if tc.want == nil {
				if e.AboutClientAuth() || strings.Contains(msg, "oauth_credential_exchange_method") {
					t.Fatalf("a refusal about something else names the option: %v", err)
				}
				return
			}
			if !e.AboutClientAuth() || !strings.Contains(msg, "oauth_credential_exchange_method") {
				t.Fatalf("message does not name the option: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %v", w, err)
				}
			}
			if strings.Contains(msg, testSecret) {
				t.Errorf("message contains the secret: %v", err)
			}
		})
	}
}

// oneMethodServer is a strict token endpoint without metadata that accepts only
// method: two methods in one request are refused as invalid_request (the usual strict
// wording), the wrong single one as invalid_client. It records the methods it saw.
type oneMethodServer struct {
	accept oauth.ExchangeMethod
	secret string
	mu     sync.Mutex
	seen   []oauth.ExchangeMethod
}

func (s *oneMethodServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/token" {
		http.NotFound(w, r)
		return
	}
	_ = r.ParseForm()
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	inBody := r.PostForm.Get("client_secret") != ""
	var m oauth.ExchangeMethod
	switch {
	case basic && inBody:
		m = oauth.ExchangeHeaderAndBody
	case basic:
		m = oauth.ExchangeHeaderOnly
	case inBody:
		m, id, secret = oauth.ExchangeBodyOnly, r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.mu.Lock()
	s.seen = append(s.seen, m)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case m == oauth.ExchangeHeaderAndBody && s.accept != m:
		w.WriteHeader(400)
		_, _ = io.WriteString(w, `{"error":"invalid_request","error_description":"client authentication must only be provided using one mechanism"}`)
	case m != s.accept || id != "client" || secret != s.secret:
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
	default:
		_, _ = io.WriteString(w, `{"access_token":"at-`+string(m)+`","token_type":"Bearer","expires_in":3600}`)
	}
}

func (s *oneMethodServer) tries() []oauth.ExchangeMethod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]oauth.ExchangeMethod(nil), s.seen...)
}

// TestTryMethods: against token endpoints without metadata that accept only one
// method, TryMethods finds each in oauth.TryOrder's order, for client credentials and
// for a code redemption; a bad secret ends after exactly three tries with a message
// that names the option and the methods tried; a refusal about something else is not
// retried.
func TestTryMethods(t *testing.T) {
	order := oauth.TryOrder
	if len(order) != 3 || order[0] != oauth.ExchangeHeaderAndBody || order[1] != oauth.ExchangeHeaderOnly || order[2] != oauth.ExchangeBodyOnly {
		t.Fatalf("TryOrder = %v", order)
	}
	for _, tc := range []struct {
		name      string
		accept    oauth.ExchangeMethod
		secret    string
		wantTries int
		wantErr   string
	}{
		{"accepts header_and_body", oauth.ExchangeHeaderAndBody, testSecret, 1, ""},
		{"accepts header_only", oauth.ExchangeHeaderOnly, testSecret, 2, ""},
		{"accepts body_only", oauth.ExchangeBodyOnly, testSecret, 3, ""},
		{"bad secret", oauth.ExchangeHeaderOnly, "another-secret", 3, "tried oauth_credential_exchange_method header_and_body, header_only, body_only"},
	} {
		for _, grant := range []string{"client_credentials", "authorization_code"} {
			t.Run(tc.name+" "+grant, func(t *testing.T) {
				h := &oneMethodServer{accept: tc.accept, secret: tc.secret}
				srv, c := tlsServer(t, h)
				cfg := cfgFor(srv)
				call := func(cfg oauth.Config) (*oauth.Token, error) {
					if grant == "authorization_code" {
						return c.Exchange(context.Background(), cfg, "the-code", "https://gh.example/cb", "verifier")
					}
					return c.ClientCredentials(context.Background(), cfg)
				}
				tok, m, err := oauth.TryMethods(cfg, call)
				if got := h.tries(); len(got) != tc.wantTries {
					t.Fatalf("server saw %d tries %v, want %d", len(got), got, tc.wantTries)
				}
				if tc.wantErr != "" {
					if err == nil || m != "" || tok != nil {
						t.Fatalf("TryMethods = %v %q %v, want an error", tok, m, err)
					}
					for _, w := range []string{tc.wantErr, "oauth_credential_exchange_method", "client authentication failed"} {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("error lacks %q: %v", w, err)
						}
					}
					if strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("client:"+testSecret))) {
						t.Errorf("error contains the secret: %v", err)
					}
					return
				}
				if err != nil || m != tc.accept || tok.AccessToken != "at-"+string(tc.accept) {
					t.Fatalf("TryMethods = %v %q %v, want a token with %s", tok, m, err, tc.accept)
				}
			})
		}
	}
	t.Run("other refusal is not retried", func(t *testing.T) {
		var n atomic.Int32
		srv, c := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"code expired"}`)
		}))
		_, _, err := oauth.TryMethods(cfgFor(srv), func(cfg oauth.Config) (*oauth.Token, error) {
			return c.Exchange(context.Background(), cfg, "code", "https://gh.example/cb", "v")
		})
		if e := asError(t, err); e.Code != "invalid_grant" || n.Load() != 1 {
			t.Fatalf("err = %v after %d tries, want invalid_grant after 1", err, n.Load())
		}
	})
	t.Run("unreachable is not retried", func(t *testing.T) {
		srv, c := tlsServer(t, http.NotFoundHandler())
		cfg := cfgFor(srv)
		srv.Close()
		calls := 0
		_, _, err := oauth.TryMethods(cfg, func(cfg oauth.Config) (*oauth.Token, error) {
			calls++
			return c.ClientCredentials(context.Background(), cfg)
		})
		if e := asError(t, err); e.Class != oauth.ClassDegraded || calls != 1 {
			t.Fatalf("err = %v after %d calls, want degraded after 1", err, calls)
		}
	})
}

// FuzzClientAuthRefusal: the classification of a provider's refusal never panics, is
// stable, and an unauthorized_client or a degraded failure is never retried.
func FuzzClientAuthRefusal(f *testing.F) {
	f.Add("invalid_request", "client authentication must only be provided using one mechanism", 400)
	f.Add("invalid_client", "", 401)
	f.Add("unauthorized_client", "Multiple authentication", 400)
	f.Add("", "MORE THAN ONE credentials \u0000", 503)
	f.Fuzz(func(t *testing.T, code, desc string, status int) {
		e := &oauth.Error{Code: code, Description: desc, Status: status, Class: oauth.ClassMisconfigured}
		if status == 429 || status >= 500 {
			e.Class = oauth.ClassDegraded
		}
		retry, about := e.MethodMayBeWrong(), e.AboutClientAuth()
		if retry != e.MethodMayBeWrong() || about != e.AboutClientAuth() {
			t.Fatal("classification is not stable")
		}
		if retry && !about {
			t.Fatal("a retried refusal is not about client authentication")
		}
		if retry && (code == "unauthorized_client" || e.Class == oauth.ClassDegraded || status == 0) {
			t.Fatalf("retried %q at %d", code, status)
		}
		_ = e.Error()
	})
}

// TestCheckProviderNamesARefusedMechanism: `connections check` fails the confidential
// client check, naming the option, when the token endpoint refuses the mechanism with
// invalid_request.
func TestCheckProviderNamesARefusedMechanism(t *testing.T) {
	srv, c := tlsServer(t, refusalServer(400, `{"error":"invalid_request","error_description":"client authentication must only be provided using one mechanism"}`, "-"))
	for _, ch := range c.CheckProvider(context.Background(), cfgFor(srv), "https://gh.example/login/oauth/http.html", false) {
		if ch.Name != oauth.CheckConfidential {
			continue
		}
		if ch.Result != oauth.ResultFail || !strings.Contains(ch.Fix, "check oauth_credential_exchange_method: Gatehouse sent header_and_body; the provider publishes no metadata") {
			t.Fatalf("confidential check = %+v", ch)
		}
		return
	}
	t.Fatal("no confidential client check")
}
