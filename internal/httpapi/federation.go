package httpapi

import (
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/identity"
)

// Workload identity federation (issue 12): the federation policies of a service
// principal, admins only. The operations and their rules are in internal/governance;
// the token exchange itself is served by internal/authserver at POST /oidc/v1/token.

// FederationPolicyInfo is a federation policy on the wire.
type FederationPolicyInfo struct {
	ID               string   `json:"id"`
	ServicePrincipal string   `json:"service_principal_id"` // the application id
	Issuer           string   `json:"issuer"`
	Audiences        []string `json:"audiences"`
	Subject          string   `json:"subject"`
	SubjectClaim     string   `json:"subject_claim"`
	JWKSJSON         string   `json:"jwks_json,omitempty"`
	CreateTime       string   `json:"create_time"`
	UpdateTime       string   `json:"update_time"`
}

// FederationPolicyRequest is the body of a create (issuer, audiences and subject
// required) or an update (fields left out keep their values).
type FederationPolicyRequest struct {
	Issuer       *string   `json:"issuer"`
	Audiences    *[]string `json:"audiences"`
	Subject      *string   `json:"subject"`
	SubjectClaim *string   `json:"subject_claim"`
	JWKSJSON     *string   `json:"jwks_json"`
}

func (q FederationPolicyRequest) input() governance.FederationPolicyInput {
	return governance.FederationPolicyInput{Issuer: q.Issuer, Audiences: q.Audiences, Subject: q.Subject, SubjectClaim: q.SubjectClaim, JWKSJSON: q.JWKSJSON}
}

func federationPolicyInfo(appID string, p *catalog.FederationPolicy) FederationPolicyInfo {
	return FederationPolicyInfo{ID: p.ID, ServicePrincipal: appID, Issuer: p.Issuer, Audiences: append([]string{}, p.Audiences...),
		Subject: p.Subject, SubjectClaim: p.SubjectClaim, JWKSJSON: p.JWKSJSON,
		CreateTime: p.CreatedAt.UTC().Format(time.RFC3339), UpdateTime: p.UpdatedAt.UTC().Format(time.RFC3339)}
}

func (s *Server) listFederationPolicies(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	appID := r.PathValue("application_id")
	ps, err := s.Governance.ListFederationPolicies(r.Context(), who.Principal, appID)
	if err != nil {
		return err
	}
	out := make([]FederationPolicyInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, federationPolicyInfo(appID, p))
	}
	return ok(w, map[string]any{"policies": out})
}

func (s *Server) getFederationPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	appID := r.PathValue("application_id")
	p, err := s.Governance.GetFederationPolicy(r.Context(), who.Principal, appID, r.PathValue("policy_id"))
	if err != nil {
		return err
	}
	return ok(w, federationPolicyInfo(appID, p))
}

func (s *Server) createFederationPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err // refused before the body is read
	}
	var req FederationPolicyRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	appID := r.PathValue("application_id")
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	p, err := s.Governance.CreateFederationPolicy(r.Context(), who.Principal, appID, req.input(), rec)
	if err != nil {
		return err
	}
	return ok(w, federationPolicyInfo(appID, p))
}

func (s *Server) updateFederationPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	if err := s.requireAdmin(r.Context(), who); err != nil {
		return err
	}
	var req FederationPolicyRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	appID := r.PathValue("application_id")
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	p, err := s.Governance.UpdateFederationPolicy(r.Context(), who.Principal, appID, r.PathValue("policy_id"), req.input(), rec)
	if err != nil {
		return err
	}
	return ok(w, federationPolicyInfo(appID, p))
}

func (s *Server) deleteFederationPolicy(w http.ResponseWriter, r *http.Request, who *identity.Identity) error {
	rec := &governance.Record{}
	defer noteRecord(r, rec)
	if err := s.Governance.DeleteFederationPolicy(r.Context(), who.Principal, r.PathValue("application_id"), r.PathValue("policy_id"), rec); err != nil {
		return err
	}
	return ok(w, struct{}{})
}
