package console

import (
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(route{"GET /{$}", (*Console).home})
}

// homeRows bounds the recent denials and refresh failures the home page lists.
const homeRows = 10

// homeScan bounds the credential-state events read to find the refresh failures.
const homeScan = 200

// homeConnections bounds the connections a non-admin's counts are taken over.
const homeConnections = 1000

// failedStates are the states a failed refresh leaves a credential in.
var failedStates = map[string]bool{string(catalog.StateReauthRequired): true, string(catalog.StateMisconfigured): true, string(catalog.StateDegraded): true}

type stateCount struct {
	State string
	N     int
	Link  string
}

type homeEvent struct {
	When                                     when
	Principal, Action, Connection, Code, Why string
}

type homeData struct {
	Admin bool
	// Scope says what the counts are over.
	Scope     string
	Counts    []stateCount
	Total     int
	Attention int
	Truncated bool
	Denials   []homeEvent
	Failures  []homeEvent
	DenyErr   string
	FailErr   string
}

// home answers "is everything all right?": the credentials by state (for admins every
// credential held, shared and per user; for others the connections they may see),
// and for admins the recent denials and refresh failures, each linking to its page.
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	admin, err := c.d.Gov.IsAdmin(ctx, v.P)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	d := &homeData{Admin: admin}
	counts := map[catalog.CredentialState]int{}
	if admin {
		d.Scope = "every credential Gatehouse holds, shared and per user"
		items, err := c.d.Gov.Inventory(ctx, v.P)
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		for _, it := range items {
			counts[it.State]++
		}
	} else {
		d.Scope = "the connections you may use (your own credential on per-user ones)"
		res, err := c.d.Gov.ListConnections(ctx, v.P, governance.ListConnectionsRequest{MaxResults: homeConnections})
		if err != nil {
			c.fail(w, r, v, err)
			return
		}
		d.Truncated = res.NextPageToken != ""
		for _, cv := range res.Connections {
			counts[cv.Status.State]++
		}
	}
	for _, st := range states {
		n := counts[st]
		d.Total += n
		if st != catalog.StateActive && st != catalog.StateDisabled {
			d.Attention += n
		}
		link := "/connections?state=" + url.QueryEscape(string(st))
		if admin {
			link = "/inventory"
		}
		d.Counts = append(d.Counts, stateCount{State: string(st), N: n, Link: link})
	}
	if admin {
		d.Denials, d.DenyErr = c.recent(r, v, governance.AuditQuery{Decision: catalog.DecisionDeny}, homeRows, nil)
		d.Failures, d.FailErr = c.recent(r, v, governance.AuditQuery{Action: catalog.ActionCredentialState}, homeScan, func(e *catalog.AuditEvent) bool {
			return failedStates[e.Params["to"]]
		})
	}
	c.render(w, r, http.StatusOK, v, "home.html", &page{Title: "Home", Nav: "home", Data: d})
}

// recent lists the newest audit events of q (read at most scan), those keep accepts,
// at most homeRows.
func (c *Console) recent(r *http.Request, v *viewer, q governance.AuditQuery, scan int, keep func(*catalog.AuditEvent) bool) ([]homeEvent, string) {
	q.Order, q.MaxResults = governance.AuditOrderDesc, scan
	res, err := c.d.Gov.ListAudit(r.Context(), v.P, q)
	if err != nil {
		return nil, c.errMessage(r, err)
	}
	var out []homeEvent
	for _, e := range res.Events {
		if keep != nil && !keep(e) {
			continue
		}
		why := e.Params["reason"]
		if e.ActionName == catalog.ActionCredentialState {
			why = e.Params["from"] + " → " + e.Params["to"] + ": " + why
		}
		out = append(out, homeEvent{When: c.when(e.EventTime), Principal: e.Principal, Action: e.ActionName, Connection: e.Connection, Code: e.ErrorCode, Why: why})
		if len(out) == homeRows {
			break
		}
	}
	return out, ""
}
