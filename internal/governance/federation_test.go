package governance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/internal/access"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

func ptr[T any](v T) *T { return &v }

// TestFederationPolicyRules: what a valid federation policy is, that only admins manage
// them, that a refused change writes nothing, and that a policy is reached only through
// its own service principal.
func TestFederationPolicyRules(t *testing.T) {
	w := newOpsWorld(t)
	ctx := context.Background()
	w.add(t, "ci-app", catalog.KindServicePrincipal)
	w.add(t, "other-app", catalog.KindServicePrincipal)
	strict := New(Deps{Store: w.st, Access: access.New(w.st)}) // no http:// anywhere
	root := w.p["root"]
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256"}}})
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: "k", Algorithm: "RS256"}}})
	hs, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte(strings.Repeat("k", 32)), KeyID: "h", Algorithm: "HS256"}}})
	good := func() FederationPolicyInput {
		return FederationPolicyInput{Issuer: ptr("https://token.actions.githubusercontent.com"), Audiences: &[]string{"gatehouse"}, Subject: ptr("repo:acme/app:ref:refs/heads/main")}
	}
	cases := []struct {
		name string
		svc  *Service
		edit func(*FederationPolicyInput)
		code catalog.ErrorCode // "" accepted
	}{
		{"discovery policy", strict, func(*FederationPolicyInput) {}, ""},
		{"static jwks", strict, func(in *FederationPolicyInput) { in.JWKSJSON = ptr(string(pub)) }, ""},
		{"loopback https issuer", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("https://127.0.0.1:8443") }, ""},
		{"http issuer refused", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("http://127.0.0.1:8080") }, catalog.InvalidParameterValue},
		{"http issuer with --dev", w.svc, func(in *FederationPolicyInput) { in.Issuer = ptr("http://127.0.0.1:8080") }, ""},
		{"issuer not a URL", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("token.actions.githubusercontent.com") }, catalog.InvalidParameterValue},
		{"issuer with query", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("https://i.example/?a=b") }, catalog.InvalidParameterValue},
		{"issuer with credentials", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("https://u:p@i.example") }, catalog.InvalidParameterValue},
		{"ftp issuer", strict, func(in *FederationPolicyInput) { in.Issuer = ptr("ftp://i.example") }, catalog.InvalidParameterValue},
		{"no issuer", strict, func(in *FederationPolicyInput) { in.Issuer = nil }, catalog.InvalidParameterValue},
		{"empty audiences", strict, func(in *FederationPolicyInput) { in.Audiences = &[]string{} }, catalog.InvalidParameterValue},
		{"blank audience", strict, func(in *FederationPolicyInput) { in.Audiences = &[]string{"a", ""} }, catalog.InvalidParameterValue},
		{"no subject", strict, func(in *FederationPolicyInput) { in.Subject = ptr("") }, catalog.InvalidParameterValue},
		{"subject claim", strict, func(in *FederationPolicyInput) { in.SubjectClaim = ptr("email") }, ""},
		{"bad subject claim", strict, func(in *FederationPolicyInput) { in.SubjectClaim = ptr("a b") }, catalog.InvalidParameterValue},
		{"private key in jwks", strict, func(in *FederationPolicyInput) { in.JWKSJSON = ptr(string(priv)) }, catalog.InvalidParameterValue},
		{"symmetric key in jwks", strict, func(in *FederationPolicyInput) { in.JWKSJSON = ptr(string(hs)) }, catalog.InvalidParameterValue},
		{"jwks not json", strict, func(in *FederationPolicyInput) { in.JWKSJSON = ptr("{") }, catalog.InvalidParameterValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := good()
			c.edit(&in)
			before, _ := w.st.ListFederationPolicies(ctx, w.p["ci-app"].ID)
			rec := &Record{}
			p, err := c.svc.CreateFederationPolicy(ctx, root, "ci-app", in, rec)
			after, _ := w.st.ListFederationPolicies(ctx, w.p["ci-app"].ID)
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.SubjectClaim == "" || rec.Params["federation_policy_id"] != p.ID || len(after) != len(before)+1 {
					t.Fatalf("policy %+v, record %v", p, rec.Params)
				}
				return
			}
			if catalog.CodeOf(err) != c.code {
				t.Fatalf("got %v, want %s", err, c.code)
			}
			if len(after) != len(before) || len(rec.Params) != 0 {
				t.Fatal("a refused create wrote something")
			}
		})
	}

	p, err := strict.CreateFederationPolicy(ctx, root, "ci-app", good(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.CreateFederationPolicy(ctx, w.p["olivia"], "ci-app", good(), nil); catalog.CodeOf(err) != catalog.PermissionDenied {
		t.Errorf("a non-admin created a policy: %v", err)
	}
	if _, err := strict.ListFederationPolicies(ctx, w.p["mike"], "ci-app"); catalog.CodeOf(err) != catalog.PermissionDenied {
		t.Errorf("a non-admin listed policies: %v", err)
	}
	if _, err := strict.GetFederationPolicy(ctx, root, "other-app", p.ID); catalog.CodeOf(err) != catalog.ResourceDoesNotExist {
		t.Errorf("a policy was reached through another service principal: %v", err)
	}
	if _, err := strict.ListFederationPolicies(ctx, root, "olivia"); catalog.CodeOf(err) != catalog.ResourceDoesNotExist {
		t.Errorf("a user has federation policies: %v", err)
	}
	if err := strict.DeleteFederationPolicy(ctx, root, "other-app", p.ID, nil); catalog.CodeOf(err) != catalog.ResourceDoesNotExist {
		t.Errorf("deleted through another service principal: %v", err)
	}

	up, err := strict.UpdateFederationPolicy(ctx, root, "ci-app", p.ID, FederationPolicyInput{Subject: ptr("repo:acme/app:environment:prod")}, nil)
	if err != nil || up.Subject != "repo:acme/app:environment:prod" || up.Issuer != p.Issuer || len(up.Audiences) != 1 {
		t.Fatalf("update: %+v %v", up, err)
	}
	if _, err := strict.UpdateFederationPolicy(ctx, root, "ci-app", p.ID, FederationPolicyInput{Audiences: &[]string{}}, nil); catalog.CodeOf(err) != catalog.InvalidParameterValue {
		t.Errorf("update to no audiences: %v", err)
	}
	got, _ := strict.GetFederationPolicy(ctx, root, "ci-app", p.ID)
	if len(got.Audiences) != 1 {
		t.Error("a refused update changed the policy")
	}
	if err := strict.DeleteFederationPolicy(ctx, root, "ci-app", p.ID, nil); err != nil {
		t.Fatal(err)
	}

	// At most MaxFederationPolicies per service principal.
	for range MaxFederationPolicies {
		if _, err := strict.CreateFederationPolicy(ctx, root, "other-app", good(), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := strict.CreateFederationPolicy(ctx, root, "other-app", good(), nil); catalog.CodeOf(err) != catalog.InvalidParameterValue {
		t.Errorf("policy %d accepted: %v", MaxFederationPolicies+1, err)
	}
}
