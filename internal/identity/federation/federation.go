// Package federation is workload identity federation: the token exchange grant
// (RFC 8693) of Gatehouse's token endpoint. A workload presents a JWT from an issuer a
// service principal trusts (one of its federation policies) and receives a Gatehouse
// token of that service principal, living no longer than the JWT and at most an hour.
//
// The JWT must be signed with RS256 or ES256 by a key of the issuer (the policy's
// jwks_json, else the issuer's discovery document and JWKS), and its iss, aud, exp,
// nbf, iat and subject claim must match the policy. The caller learns which check
// failed, never a key or a token; the server log gets the detail.
package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Names of RFC 8693.
const (
	GrantType       = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeJWT    = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
)

// Limits of the exchange.
const (
	// MaxSubjectTokenBytes bounds subject_token.
	MaxSubjectTokenBytes = 16 << 10
	// MaxLifetime bounds the issued token's life (it also ends with the JWT).
	MaxLifetime = time.Hour
	// Leeway is the clock skew allowed on nbf and iat (exp must be in the future: the
	// issued token ends with it).
	Leeway = 30 * time.Second
)

// Store is what the exchange reads and writes.
type Store interface {
	GetPrincipalByName(ctx context.Context, name string) (*catalog.Principal, error)
	ListFederationPolicies(ctx context.Context, principalID string) ([]*catalog.FederationPolicy, error)
	CreateToken(ctx context.Context, t *catalog.Token) error
}

// Exchange is the token exchange grant (an identity.TokenGrant).
type Exchange struct {
	store Store
	keys  *KeySource
	now   func() time.Time
	log   *slog.Logger
}

// Options configure an Exchange.
type Options struct {
	// HTTPClient fetches issuers' discovery documents and keys. It must dial through the
	// network policy's safe dialer and never follow redirects.
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Log receives the detail of each refusal (nil: none).
	Log *slog.Logger
}

// New returns the token exchange grant.
func New(s Store, opts Options) *Exchange {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Exchange{store: s, keys: NewKeySource(hc, now), now: now, log: log}
}

// GrantType implements identity.TokenGrant.
func (x *Exchange) GrantType() string { return GrantType }

var _ identity.TokenGrant = (*Exchange)(nil)

func invalidRequest(desc string) *identity.GrantError {
	return &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_request", Description: desc}
}

func invalidClient(desc string) *identity.GrantError {
	return &identity.GrantError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: desc}
}

// Exchange implements identity.TokenGrant.
func (x *Exchange) Exchange(ctx context.Context, req identity.TokenRequest) (*identity.TokenResponse, error) {
	f := req.Form
	subject := f.Get("subject_token")
	switch {
	case subject == "":
		return nil, invalidRequest("subject_token is required")
	case len(subject) > MaxSubjectTokenBytes:
		return nil, invalidRequest("subject_token is larger than " + strconv.Itoa(MaxSubjectTokenBytes) + " bytes")
	case f.Get("subject_token_type") != TokenTypeJWT:
		return nil, invalidRequest("subject_token_type must be " + TokenTypeJWT)
	case f.Get("actor_token") != "" || f.Get("actor_token_type") != "":
		return nil, invalidRequest("actor_token is not supported")
	}
	if rt := f.Get("requested_token_type"); rt != "" && rt != TokenTypeAccess {
		return nil, invalidRequest("requested_token_type must be " + TokenTypeAccess)
	}
	if f.Get("resource") != "" || f.Get("audience") != "" {
		return nil, &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_target",
			Description: "resource and audience are not supported by token exchange: the token is one of the service principal"}
	}
	clientID := f.Get("client_id")
	if req.BasicID != "" {
		if clientID != "" && clientID != req.BasicID {
			return nil, invalidRequest("client_id and the HTTP Basic user differ")
		}
		clientID = req.BasicID
	}
	if clientID == "" {
		return nil, invalidRequest("client_id (the service principal's application id) is required")
	}
	if req.BasicSecret != "" {
		return nil, invalidClient("token exchange takes no client secret: the JWT is the credential")
	}
	sp, err := x.store.GetPrincipalByName(ctx, clientID)
	if err != nil && !catalog.IsNotFound(err) {
		return nil, fmt.Errorf("look up service principal: %w", err)
	}
	if err != nil || sp.Kind != catalog.KindServicePrincipal {
		return nil, invalidClient("client_id is not the application id of a service principal")
	}
	authserver.NotePrincipal(ctx, sp.Name)
	if !sp.Active {
		return nil, invalidClient("service principal is deactivated")
	}
	policies, err := x.store.ListFederationPolicies(ctx, sp.ID)
	if err != nil {
		return nil, fmt.Errorf("list federation policies: %w", err)
	}
	if len(policies) == 0 {
		return nil, &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_grant",
			Description: "service principal has no federation policies"}
	}
	v, gerr := x.Verify(ctx, subject, policies)
	if gerr != nil {
		gerr.Log = "service principal " + sp.Name + ": " + gerr.Log // the token endpoint logs it
		return nil, gerr
	}
	now := x.now()
	expires := v.Expiry
	if limit := now.Add(MaxLifetime); expires.After(limit) {
		expires = limit
	}
	value := identity.NewTokenValue()
	t := &catalog.Token{ID: catalog.NewID(), PrincipalID: sp.ID, Hash: identity.HashToken(value),
		Comment: "federation policy " + v.Policy.ID, CreatedBy: sp.ID, CreatedAt: now, ExpiresAt: expires}
	if err := x.store.CreateToken(ctx, t); err != nil {
		return nil, fmt.Errorf("store token: %w", err)
	}
	lifetime := int64(expires.Sub(now) / time.Second)
	authserver.Note(ctx, "token_id", t.ID)
	authserver.Note(ctx, "federation_policy_id", v.Policy.ID)
	authserver.Note(ctx, "jwt_issuer", v.Policy.Issuer)
	authserver.Note(ctx, "jwt_subject", v.Policy.Subject)
	authserver.Note(ctx, "lifetime_seconds", strconv.FormatInt(lifetime, 10))
	x.log.Info("token exchange", "service_principal", sp.Name, "federation_policy_id", v.Policy.ID, "token_id", t.ID, "expires", expires)
	return &identity.TokenResponse{AccessToken: value, IssuedTokenType: TokenTypeAccess, TokenType: "Bearer", ExpiresIn: max(lifetime, 1)}, nil
}

// Verified is a JWT that one policy accepted.
type Verified struct {
	Policy *catalog.FederationPolicy
	Expiry time.Time
}

// checks in the order they run: a refusal reports the check that the policy which got
// furthest failed.
const (
	stageMalformed = iota
	stageIssuer
	stageKeys
	stageSignature
	stageTime
	stageAudience
	stageSubject
)

type refusal struct {
	stage int
	err   *identity.GrantError
}

func refuse(stage int, desc, log string) refusal {
	return refusal{stage: stage, err: &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: desc, Log: log}}
}

// Verify checks the JWT against each policy in turn and returns the first that accepts
// it. The error names the check that failed for the policy that came nearest.
func (x *Exchange) Verify(ctx context.Context, token string, policies []*catalog.FederationPolicy) (*Verified, *identity.GrantError) {
	// One parse of the JWS, header included: go-jose refuses any alg but these two,
	// which is the refusal "signature algorithm not allowed" (none and HS256 among them).
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	var badAlg *jose.ErrUnexpectedSignatureAlgorithm
	if errors.As(err, &badAlg) {
		return nil, refuse(stageMalformed, "signature algorithm not allowed", "alg "+strconv.Quote(string(badAlg.Got))).err
	}
	if err != nil || len(tok.Headers) != 1 {
		log := "not one signature"
		if err != nil {
			log = err.Error()
		}
		return nil, &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "subject_token is not a signed JWT", Log: log}
	}
	hdr := header{Alg: tok.Headers[0].Algorithm, Kid: tok.Headers[0].KeyID}
	var unverified struct {
		Issuer string `json:"iss"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return nil, &identity.GrantError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "subject_token's claims are not a JSON object", Log: err.Error()}
	}
	best := refuse(stageIssuer, "issuer not accepted by any federation policy of this service principal", "iss "+strconv.Quote(unverified.Issuer))
	for _, p := range policies {
		v, r := x.verifyOne(ctx, tok, hdr, unverified.Issuer, p)
		if v != nil {
			return v, nil
		}
		if r.stage > best.stage {
			best = r
		}
	}
	return nil, best.err
}

// header is what the checks read of the token's JOSE header (not trusted until the
// signature verifies).
type header struct {
	Alg string
	Kid string
}

func (x *Exchange) policyKeys(ctx context.Context, p *catalog.FederationPolicy, refresh bool) (*jose.JSONWebKeySet, error) {
	if p.JWKSJSON != "" {
		return ParseJWKS([]byte(p.JWKSJSON))
	}
	return x.keys.Keys(ctx, p.Issuer, refresh)
}

func (x *Exchange) verifyOne(ctx context.Context, tok *jwt.JSONWebToken, hdr header, iss string, p *catalog.FederationPolicy) (*Verified, refusal) {
	if iss != p.Issuer {
		return nil, refuse(stageIssuer, "issuer not accepted by any federation policy of this service principal", "iss "+strconv.Quote(iss))
	}
	if hdr.Kid == "" {
		return nil, refuse(stageKeys, "the JWT header has no kid", "policy "+p.ID)
	}
	set, err := x.policyKeys(ctx, p, false)
	if err != nil {
		return nil, refuse(stageKeys, "the issuer's keys could not be read", "policy "+p.ID+": "+err.Error())
	}
	keys := set.Key(hdr.Kid)
	if len(keys) == 0 && p.JWKSJSON == "" {
		// A JWKS that rotates: fetch once more (at most once per MinRefetch).
		if set, err = x.keys.Keys(ctx, p.Issuer, true); err == nil {
			keys = set.Key(hdr.Kid)
		}
	}
	if len(keys) == 0 {
		return nil, refuse(stageKeys, "key id (kid) not found in the issuer's keys", "policy "+p.ID+": kid "+strconv.Quote(hdr.Kid))
	}
	var claims jwt.Claims
	var all map[string]any
	verified, algOK := false, false
	for _, k := range keys {
		alg, err := keyAlg(k)
		if err != nil || string(alg) != hdr.Alg {
			continue // a key of another type never verifies this alg (no HS256 with an RSA key)
		}
		algOK = true
		claims, all = jwt.Claims{}, nil
		if err := tok.Claims(k.Key, &claims, &all); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		if algOK {
			return nil, refuse(stageSignature, "signature does not verify", "policy "+p.ID+": kid "+strconv.Quote(hdr.Kid))
		}
		return nil, refuse(stageSignature, "signature algorithm not allowed", "policy "+p.ID+": alg "+hdr.Alg+" does not match the type of key "+strconv.Quote(hdr.Kid))
	}
	now := x.now()
	switch {
	case claims.Expiry == nil:
		return nil, refuse(stageTime, "token has no expiry (exp)", "policy "+p.ID)
	case !now.Before(claims.Expiry.Time()):
		return nil, refuse(stageTime, "token expired", "policy "+p.ID+": exp "+claims.Expiry.Time().UTC().Format(time.RFC3339))
	case claims.NotBefore != nil && now.Add(Leeway).Before(claims.NotBefore.Time()):
		return nil, refuse(stageTime, "token not yet valid (nbf)", "policy "+p.ID+": nbf "+claims.NotBefore.Time().UTC().Format(time.RFC3339))
	case claims.IssuedAt != nil && now.Add(Leeway).Before(claims.IssuedAt.Time()):
		return nil, refuse(stageTime, "token issued in the future (iat)", "policy "+p.ID+": iat "+claims.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	audOK := false
	for _, a := range p.Audiences {
		if claims.Audience.Contains(a) {
			audOK = true
			break
		}
	}
	if !audOK {
		return nil, refuse(stageAudience, "audience not accepted by any federation policy of this service principal", "policy "+p.ID+": aud "+strings.Join(claims.Audience, ","))
	}
	claim := p.SubjectClaim
	if claim == "" {
		claim = "sub"
	}
	got, _ := all[claim].(string)
	if got == "" || got != p.Subject {
		return nil, refuse(stageSubject, "subject not accepted by any federation policy of this service principal", "policy "+p.ID+": "+claim+" "+strconv.Quote(got))
	}
	return &Verified{Policy: p, Expiry: claims.Expiry.Time()}, refusal{}
}
