package governance

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/identity/federation"
)

// Workload identity federation (issue 12): the federation policies of service
// principals. Admins only. A policy says which outside JWT may sign in as the service
// principal at POST /oidc/v1/token; the rules of what a valid policy is live here.

// Bounds of a federation policy.
const (
	MaxFederationPolicies = 20   // per service principal
	maxIssuerLen          = 2048 // characters
	maxAudiences          = 32
	maxAudienceLen        = 512
	maxSubjectLen         = 1024
)

var subjectClaimRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,127}$`)

// FederationPolicyInput is what a create or an update says. On update a nil field
// keeps the policy's value.
type FederationPolicyInput struct {
	Issuer       *string
	Audiences    *[]string
	Subject      *string
	SubjectClaim *string
	JWKSJSON     *string
}

// servicePrincipal finds the service principal whose application id is appID, after
// checking that who is an admin.
func (s *Service) servicePrincipal(ctx context.Context, who *catalog.Principal, appID string) (*catalog.Principal, error) {
	admin, err := s.d.Access.IsAdmin(ctx, who)
	if err != nil {
		return nil, err
	}
	if !admin {
		return nil, catalog.Errorf(catalog.PermissionDenied, "only admins manage federation policies; %s is not an admin", who.Name)
	}
	sp, err := s.d.Store.GetPrincipalByName(ctx, appID)
	if err != nil && !catalog.IsNotFound(err) {
		return nil, err
	}
	if err != nil || sp.Kind != catalog.KindServicePrincipal {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "service principal %s does not exist", quoteID(appID))
	}
	return sp, nil
}

func quoteID(s string) string {
	if len(s) > 128 {
		return strconv.Quote(s[:128] + "…")
	}
	return s
}

// ListFederationPolicies lists the policies of the service principal appID.
func (s *Service) ListFederationPolicies(ctx context.Context, who *catalog.Principal, appID string) ([]*catalog.FederationPolicy, error) {
	sp, err := s.servicePrincipal(ctx, who, appID)
	if err != nil {
		return nil, err
	}
	return s.d.Store.ListFederationPolicies(ctx, sp.ID)
}

// GetFederationPolicy returns one policy of the service principal appID.
func (s *Service) GetFederationPolicy(ctx context.Context, who *catalog.Principal, appID, id string) (*catalog.FederationPolicy, error) {
	sp, err := s.servicePrincipal(ctx, who, appID)
	if err != nil {
		return nil, err
	}
	return s.policyOf(ctx, sp, id)
}

func (s *Service) policyOf(ctx context.Context, sp *catalog.Principal, id string) (*catalog.FederationPolicy, error) {
	p, err := s.d.Store.GetFederationPolicy(ctx, id)
	if err == nil && p.PrincipalID != sp.ID {
		err = catalog.Errorf(catalog.ResourceDoesNotExist, "federation policy does not exist")
	}
	if catalog.IsNotFound(err) {
		return nil, catalog.Errorf(catalog.ResourceDoesNotExist, "federation policy %s of service principal %s does not exist", quoteID(id), sp.Name)
	}
	return p, err
}

// CreateFederationPolicy adds a policy to the service principal appID.
func (s *Service) CreateFederationPolicy(ctx context.Context, who *catalog.Principal, appID string, in FederationPolicyInput, rec *Record) (*catalog.FederationPolicy, error) {
	sp, err := s.servicePrincipal(ctx, who, appID)
	if err != nil {
		return nil, err
	}
	for name, missing := range map[string]bool{"issuer": in.Issuer == nil, "audiences": in.Audiences == nil, "subject": in.Subject == nil} {
		if missing {
			return nil, catalog.Errorf(catalog.InvalidParameterValue, "%s is required", name)
		}
	}
	now := s.d.Now()
	p := &catalog.FederationPolicy{ID: catalog.NewID(), PrincipalID: sp.ID, SubjectClaim: "sub", CreatedAt: now, UpdatedAt: now}
	if err := s.applyFederationInput(p, in); err != nil {
		return nil, err
	}
	existing, err := s.d.Store.ListFederationPolicies(ctx, sp.ID)
	if err != nil {
		return nil, err
	}
	if len(existing) >= MaxFederationPolicies {
		return nil, catalog.Errorf(catalog.InvalidParameterValue, "service principal %s has %d federation policies, the most it may have", sp.Name, MaxFederationPolicies)
	}
	if err := s.d.Store.CreateFederationPolicy(ctx, p); err != nil {
		return nil, err
	}
	notePolicy(rec, "createFederationPolicy", sp, p)
	return p, nil
}

// UpdateFederationPolicy changes the fields in is set of one policy.
func (s *Service) UpdateFederationPolicy(ctx context.Context, who *catalog.Principal, appID, id string, in FederationPolicyInput, rec *Record) (*catalog.FederationPolicy, error) {
	sp, err := s.servicePrincipal(ctx, who, appID)
	if err != nil {
		return nil, err
	}
	p, err := s.policyOf(ctx, sp, id)
	if err != nil {
		return nil, err
	}
	if err := s.applyFederationInput(p, in); err != nil {
		return nil, err
	}
	p.UpdatedAt = s.d.Now()
	if err := s.d.Store.UpdateFederationPolicy(ctx, p); err != nil {
		return nil, err
	}
	notePolicy(rec, "updateFederationPolicy", sp, p)
	return p, nil
}

// DeleteFederationPolicy removes one policy. Tokens it issued live out their (short)
// lives.
func (s *Service) DeleteFederationPolicy(ctx context.Context, who *catalog.Principal, appID, id string, rec *Record) error {
	sp, err := s.servicePrincipal(ctx, who, appID)
	if err != nil {
		return err
	}
	p, err := s.policyOf(ctx, sp, id)
	if err != nil {
		return err
	}
	if err := s.d.Store.DeleteFederationPolicy(ctx, p.ID); err != nil {
		return err
	}
	notePolicy(rec, "deleteFederationPolicy", sp, p)
	return nil
}

func notePolicy(rec *Record, op string, sp *catalog.Principal, p *catalog.FederationPolicy) {
	rec.Set("operation", op)
	rec.Set("service_principal", sp.Name)
	rec.Set("federation_policy_id", p.ID)
	rec.Set("issuer", p.Issuer)
	rec.Set("subject", p.Subject)
}

// applyFederationInput validates in and writes it into p.
func (s *Service) applyFederationInput(p *catalog.FederationPolicy, in FederationPolicyInput) error {
	if in.Issuer != nil {
		if err := s.validIssuer(*in.Issuer); err != nil {
			return err
		}
		p.Issuer = *in.Issuer
	}
	if in.Audiences != nil {
		auds := *in.Audiences
		if len(auds) == 0 {
			return catalog.Errorf(catalog.InvalidParameterValue, "audiences must name at least one audience")
		}
		if len(auds) > maxAudiences {
			return catalog.Errorf(catalog.InvalidParameterValue, "audiences may name at most %d audiences", maxAudiences)
		}
		for _, a := range auds {
			if a == "" || len(a) > maxAudienceLen || !utf8.ValidString(a) || strings.TrimSpace(a) != a {
				return catalog.Errorf(catalog.InvalidParameterValue, "each audience must be 1 to %d characters without surrounding spaces", maxAudienceLen)
			}
		}
		p.Audiences = append([]string(nil), auds...)
	}
	if in.Subject != nil {
		sub := *in.Subject
		if sub == "" || len(sub) > maxSubjectLen || !utf8.ValidString(sub) {
			return catalog.Errorf(catalog.InvalidParameterValue, "subject must be 1 to %d characters (matched exactly)", maxSubjectLen)
		}
		p.Subject = sub
	}
	if in.SubjectClaim != nil {
		c := *in.SubjectClaim
		if c == "" {
			c = "sub"
		}
		if !subjectClaimRE.MatchString(c) {
			return catalog.Errorf(catalog.InvalidParameterValue, "subject_claim must be a claim name (letters, digits, _ . : / -, at most 128)")
		}
		p.SubjectClaim = c
	}
	if in.JWKSJSON != nil {
		if *in.JWKSJSON != "" {
			if _, err := federation.ParseJWKS([]byte(*in.JWKSJSON)); err != nil {
				return catalog.Errorf(catalog.InvalidParameterValue, "jwks_json: %s", err.Error())
			}
		}
		p.JWKSJSON = *in.JWKSJSON
	}
	return nil
}

// validIssuer: an https URL with a host, no credentials, query or fragment; http:// only
// where the server accepts http:// elsewhere (--dev, --insecure-http-upstreams).
func (s *Service) validIssuer(iss string) error {
	u, err := url.Parse(iss)
	bad := err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || len(iss) > maxIssuerLen
	if !bad && u.Scheme == "http" && !s.d.Validation.AllowHTTP {
		return catalog.Errorf(catalog.InvalidParameterValue, "issuer must be an https:// URL (http:// only with --dev or --insecure-http-upstreams)")
	}
	if bad || (u.Scheme != "https" && u.Scheme != "http") {
		return catalog.Errorf(catalog.InvalidParameterValue, "issuer must be an https:// URL with a host and no credentials, query or fragment, as the JWT's iss says it")
	}
	return nil
}
