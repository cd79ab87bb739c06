package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(
		route{"GET /network", (*Console).network},
		route{"POST /network/preview", (*Console).networkPreview},
		route{"POST /network", (*Console).networkSave},
	)
}

// networkEventsPage is how many network events one page shows; networkEventsWindow how
// far back they go.
const (
	networkEventsPage   = 50
	networkEventsWindow = 24 * time.Hour
)

// policyForm is the policy edit form's fields, as typed (lists one entry a line).
type policyForm struct {
	Restricted, DryRun, AllowConn bool
	Allowed, Blocked, Ranges      string
	Version                       string
}

type networkData struct {
	View      governance.NetworkPolicyView
	Form      policyForm
	Preview   *governance.NetworkImpact
	Events    []netEventRow
	NextURL   string
	FormError string
}

type netEventRow struct {
	E    *catalog.NetworkEvent
	Time string
}

func formOfPolicy(p *catalog.NetworkPolicy) policyForm {
	return policyForm{Restricted: p.RestrictionMode == catalog.RestrictedAccess, DryRun: p.EnforcementMode == catalog.DryRun,
		AllowConn: p.AllowConnectionDestinations, Allowed: strings.Join(p.AllowedDestinations, "\n"),
		Blocked: strings.Join(p.BlockedDestinations, "\n"), Ranges: strings.Join(p.AllowedIPRanges, "\n"), Version: strconv.FormatInt(p.Version, 10)}
}

func readPolicyForm(r *http.Request) policyForm {
	return policyForm{Restricted: r.PostFormValue("restriction_mode") == catalog.RestrictedAccess, DryRun: r.PostFormValue("dry_run") == "on",
		AllowConn: r.PostFormValue("allow_connection_destinations") == "on", Allowed: r.PostFormValue("allowed"),
		Blocked: r.PostFormValue("blocked"), Ranges: r.PostFormValue("ip_ranges"), Version: r.PostFormValue("version")}
}

// policy is the form as a policy: blank lines are skipped; governance validates the
// rest.
func (f policyForm) policy() *catalog.NetworkPolicy {
	p := &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced, AllowConnectionDestinations: f.AllowConn,
		AllowedDestinations: lines(f.Allowed), BlockedDestinations: lines(f.Blocked), AllowedIPRanges: lines(f.Ranges)}
	if f.Restricted {
		p.RestrictionMode = catalog.RestrictedAccess
	}
	if f.DryRun {
		p.EnforcementMode = catalog.DryRun
	}
	return p
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// networkPage fills the policy and the recent events; a permission error is the page's
// error.
func (c *Console) networkPage(r *http.Request, v *viewer, d *networkData) error {
	var err error
	if d.View, err = c.d.Gov.GetNetworkPolicy(r.Context(), v.P); err != nil {
		return err
	}
	q := r.URL.Query()
	ev, err := c.d.Gov.ListNetworkEvents(r.Context(), v.P, governance.NetworkEventQuery{LogWindow: governance.LogWindow{
		Since: c.d.Now().Add(-networkEventsWindow), MaxResults: networkEventsPage, PageToken: q.Get("page_token")}})
	if err != nil {
		return err
	}
	for _, e := range ev.Events {
		d.Events = append(d.Events, netEventRow{E: e, Time: e.Time.UTC().Format("2006-01-02 15:04:05 UTC")})
	}
	if ev.NextPageToken != "" {
		d.NextURL = "/network?page_token=" + ev.NextPageToken
	}
	return nil
}

// network shows the policy, its edit form and the network events of the last day;
// admins only, as in the API.
func (c *Console) network(w http.ResponseWriter, r *http.Request, v *viewer) {
	d := &networkData{}
	if err := c.networkPage(r, v, d); err != nil {
		c.fail(w, r, v, err)
		return
	}
	d.Form = formOfPolicy(d.View.Policy)
	p := &page{Title: "Network policy", Nav: "network", Data: d}
	if r.URL.Query().Get("saved") != "" {
		p.Flash = "The network policy was saved; it applies to the next connection each replica makes."
	}
	c.render(w, r, http.StatusOK, v, "network.html", p)
}

// networkPreview is the first step of a change: it shows what the edited policy would
// change of the recent traffic, and only then offers to save it. Nothing is stored.
func (c *Console) networkPreview(w http.ResponseWriter, r *http.Request, v *viewer) {
	d := &networkData{Form: readPolicyForm(r)}
	if err := c.networkPage(r, v, d); err != nil {
		c.fail(w, r, v, err)
		return
	}
	imp, err := c.d.Gov.PreviewNetworkPolicy(r.Context(), v.P, d.Form.policy())
	status := http.StatusOK
	if err != nil {
		d.FormError, status = c.errMessage(r, err), http.StatusBadRequest
	} else {
		d.Preview = imp
	}
	c.render(w, r, status, v, "network.html", &page{Title: "Network policy", Nav: "network", Data: d})
}

// networkSave stores the previewed policy, refused when it changed since the form was
// read, and writes the API's audit record for it.
func (c *Console) networkSave(w http.ResponseWriter, r *http.Request, v *viewer) {
	f := readPolicyForm(r)
	var rec governance.Record
	var err error
	version, perr := strconv.ParseInt(f.Version, 10, 64)
	if perr != nil || version < 0 {
		err = catalog.Errorf(catalog.InvalidParameterValue, "the form's policy version is not a number; reload the page")
	} else {
		_, err = c.d.Gov.PutNetworkPolicy(r.Context(), v.P, f.policy(), &version, &rec)
	}
	c.audit(r, v, catalog.ActionUpdateNetworkPolicy, &rec, err)
	if err == nil {
		redirect(w, "/network?saved=1")
		return
	}
	d := &networkData{Form: f}
	if perr := c.networkPage(r, v, d); perr != nil {
		c.fail(w, r, v, perr)
		return
	}
	var ce *catalog.Error
	if errors.As(err, &ce) && ce.Code == catalog.ResourceAlreadyExists {
		d.FormError = "Another admin changed the policy since this form was read. The current policy is shown above; preview your change again."
		d.Form.Version = strconv.FormatInt(d.View.Policy.Version, 10)
	} else {
		d.FormError = c.errMessage(r, err)
	}
	c.render(w, r, http.StatusConflict, v, "network.html", &page{Title: "Network policy", Nav: "network", Data: d})
}
