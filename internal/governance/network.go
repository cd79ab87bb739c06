package governance

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
)

// The network policy and the network events, for metastore admins only: the perimeter
// that decides which destinations any outbound connection may reach, and the log of
// what it refused (the events name principals and where they tried to go).

// putNetworkPolicyAttempts bounds the retries of a put without a version that loses a
// race with another writer between reading the version and writing.
const putNetworkPolicyAttempts = 3

// NetworkPolicyView is the network policy as the operations show it.
type NetworkPolicyView struct {
	// Policy is the stored policy (the zero policy, version 0, when none is), its empty
	// modes shown as the FULL_ACCESS and ENFORCED they mean.
	Policy *catalog.NetworkPolicy
	// UpdatedBy is the name of the principal who stored it.
	UpdatedBy string
	// DevIPRanges are the ranges that `gatehouse server --dev` opens on top of the
	// stored policy while it runs (never stored).
	DevIPRanges []string
}

func (s *Service) storedPolicy(ctx context.Context) (*catalog.NetworkPolicy, error) {
	p, err := s.d.Store.GetNetworkPolicy(ctx)
	if catalog.IsNotFound(err) {
		return &catalog.NetworkPolicy{}, nil
	}
	return p, err
}

func (s *Service) policyView(ctx context.Context, p *catalog.NetworkPolicy) (NetworkPolicyView, error) {
	by, err := s.principalName(ctx, p.UpdatedBy)
	if err != nil {
		return NetworkPolicyView{}, err
	}
	shown := *p
	if shown.RestrictionMode == "" {
		shown.RestrictionMode = catalog.FullAccess
	}
	if shown.EnforcementMode == "" {
		shown.EnforcementMode = catalog.Enforced
	}
	return NetworkPolicyView{Policy: &shown, UpdatedBy: by, DevIPRanges: s.d.DevIPRanges}, nil
}

// GetNetworkPolicy returns the network policy; admins only.
func (s *Service) GetNetworkPolicy(ctx context.Context, who *catalog.Principal) (NetworkPolicyView, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return NetworkPolicyView{}, err
	}
	p, err := s.storedPolicy(ctx)
	if err != nil {
		return NetworkPolicyView{}, err
	}
	return s.policyView(ctx, p)
}

// NormalizeNetworkPolicy validates p and returns it as it would be stored (the egress
// package's rules, through Deps.NormalizePolicy), so that what is stored is what is
// enforced. p is not changed.
func (s *Service) NormalizeNetworkPolicy(p *catalog.NetworkPolicy) (*catalog.NetworkPolicy, error) {
	if s.d.NormalizePolicy == nil {
		c := *p
		return &c, nil
	}
	out, err := s.d.NormalizePolicy(p)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("normalize network policy: no policy and no error")
	}
	return out, nil
}

// PutNetworkPolicy replaces the whole network policy and returns the stored one;
// admins only. version is the version the caller read (0 when none is stored): a
// policy changed since is refused with RESOURCE_ALREADY_EXISTS, so that two admins
// cannot silently overwrite each other; nil replaces whatever is stored.
func (s *Service) PutNetworkPolicy(ctx context.Context, who *catalog.Principal, p *catalog.NetworkPolicy, version *int64, rec *Record) (NetworkPolicyView, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return NetworkPolicyView{}, err
	}
	rec.Set("policy", NetworkPolicySummary(p))
	p, err := s.NormalizeNetworkPolicy(p)
	if err != nil {
		return NetworkPolicyView{}, err
	}
	rec.Set("policy", NetworkPolicySummary(p))
	p.UpdatedAt, p.UpdatedBy = s.d.Now(), who.ID
	if version != nil {
		rec.Set("version", strconv.FormatInt(*version, 10))
		p.Version = *version
		err = s.d.Store.PutNetworkPolicy(ctx, p)
	} else {
		err = s.putNetworkPolicyLatest(ctx, p)
	}
	if err != nil {
		return NetworkPolicyView{}, err
	}
	return s.policyView(ctx, p)
}

// putNetworkPolicyLatest stores p over whatever version is stored: the caller gave no
// version to check against.
func (s *Service) putNetworkPolicyLatest(ctx context.Context, p *catalog.NetworkPolicy) error {
	for attempt := 1; ; attempt++ {
		cur, err := s.d.Store.GetNetworkPolicy(ctx)
		switch {
		case catalog.IsNotFound(err):
			p.Version = 0
		case err != nil:
			return err
		default:
			p.Version = cur.Version
		}
		err = s.d.Store.PutNetworkPolicy(ctx, p)
		if !catalog.IsAlreadyExists(err) || attempt == putNetworkPolicyAttempts {
			return err
		}
	}
}

// NetworkPolicySummary is the audit record's short account of a policy: its modes and
// the size of each list (the lists themselves may be long).
func NetworkPolicySummary(p *catalog.NetworkPolicy) string {
	return fmt.Sprintf("%s %s allowed=%d blocked=%d ip_ranges=%d connection_destinations=%t",
		truncate(p.RestrictionMode, 64), truncate(p.EnforcementMode, 64), len(p.AllowedDestinations),
		len(p.BlockedDestinations), len(p.AllowedIPRanges), p.AllowConnectionDestinations)
}

// NetworkEventQuery selects network events: the window, and exact matches on source
// (proxy, oauth, egress), principal and access type (DROP, DRY_RUN_DENIAL; any case);
// empty fields do not filter.
type NetworkEventQuery struct {
	LogWindow
	Source, Principal, AccessType string
}

// NetworkEventPage is one page of network events, oldest first, and the token of the
// next, "" at the end.
type NetworkEventPage struct {
	Events        []*catalog.NetworkEvent
	NextPageToken string
}

// ListNetworkEvents lists denials and dry-run denials, oldest first; admins only.
func (s *Service) ListNetworkEvents(ctx context.Context, who *catalog.Principal, q NetworkEventQuery) (NetworkEventPage, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return NetworkEventPage{}, err
	}
	lw, err := q.check()
	if err != nil {
		return NetworkEventPage{}, err
	}
	f := catalog.NetworkEventFilter{Since: lw.since, Until: lw.until, AfterSeq: lw.afterSeq, Limit: lw.storeLimit(),
		Source: q.Source, Principal: q.Principal, AccessType: strings.ToUpper(q.AccessType)}
	if err := catalog.OneOf("access_type", f.AccessType, catalog.NetworkAccessTypes()); err != nil {
		return NetworkEventPage{}, err
	}
	if err := catalog.OneOf("source", f.Source, catalog.NetworkSources()); err != nil {
		return NetworkEventPage{}, err
	}
	events, err := s.d.Store.ListNetworkEvents(ctx, f)
	if err != nil {
		return NetworkEventPage{}, err
	}
	var p NetworkEventPage
	p.Events, p.NextPageToken = pageOf(lw, events, func(e *catalog.NetworkEvent) int64 { return e.Seq })
	return p, nil
}

// The impact preview replays recent traffic under a proposed policy.
const (
	// ImpactWindow is how far back the preview looks.
	ImpactWindow = 7 * 24 * time.Hour
	// impactNetworkEvents and impactAuditEvents bound how many recorded events it
	// replays (network events oldest first within the window; calls newest first).
	impactNetworkEvents = 5000
	impactAuditEvents   = 2000
)

// The outcomes of a destination under a policy, in an impact preview.
const (
	OutcomeAllowed      = "allowed"
	OutcomeBlocked      = "blocked"
	OutcomeDryRunDenial = "dry-run denial" // let through and recorded
)

// ImpactedDestination is a destination recent traffic went to (or tried to) whose
// outcome the proposed policy changes.
type ImpactedDestination struct {
	Source      string // proxy, oauth, egress
	Connection  string // the connection of proxied calls
	Destination string // host:port
	// Principal is the last principal seen going there; Count the events; LastSeen the
	// newest one's time.
	Principal string
	Count     int
	LastSeen  time.Time
	// Before and After are the outcomes under the current and the proposed policy
	// (Outcome* values), and Reason the proposed policy's reason when it refuses.
	Before, After string
	Reason        string
}

// NetworkImpact is what a proposed policy would change of the recent traffic.
type NetworkImpact struct {
	// Policy is the proposed policy, normalized as it would be stored.
	Policy *catalog.NetworkPolicy
	// Since is the start of the replayed window; Destinations counts the distinct
	// destinations replayed and Events the events.
	Since        time.Time
	Destinations int
	Events       int
	// NowBlocked went through under the current policy and would be refused;
	// NowAllowed were refused and would go through (a dry-run denial goes through);
	// Other would move between allowed and dry-run denial: no call changes, but it
	// would start, or stop, being recorded.
	NowBlocked, NowAllowed, Other []ImpactedDestination
}

// PreviewNetworkPolicy shows, before it is saved, what proposed would change of the
// recent traffic: the network events of the last ImpactWindow (denials and dry-run
// denials, with the address each name resolved to) and the recent calls through
// connections and the egress proxy, each destination decided under the current and the
// proposed policy by the egress package's rules (egress.Verdict, which does not resolve
// names: a destination whose address is unknown is judged by its name). Admins only;
// nothing is stored.
func (s *Service) PreviewNetworkPolicy(ctx context.Context, who *catalog.Principal, proposed *catalog.NetworkPolicy) (*NetworkImpact, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	next, err := s.NormalizeNetworkPolicy(proposed)
	if err != nil {
		return nil, err
	}
	cur, err := s.storedPolicy(ctx)
	if err != nil {
		return nil, err
	}
	conns, err := s.d.Store.ListConnections(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	imp := &NetworkImpact{Policy: next, Since: s.d.Now().Add(-ImpactWindow)}
	seen, err := s.recentDestinations(ctx, imp.Since, conns)
	if err != nil {
		return nil, err
	}
	dests := egress.NewConnectionDestinations(conns)
	curJudge, nextJudge := egress.NewJudge(cur), egress.NewJudge(next)
	for _, d := range seen {
		imp.Destinations++
		imp.Events += d.Count
		src := egress.Source{Kind: d.Source, Connection: d.Connection, Principal: d.Principal}
		before, _ := outcome(cur, curJudge, dests, src, d)
		after, reason := outcome(next, nextJudge, dests, src, d)
		if before == after {
			continue
		}
		d.ImpactedDestination.Before, d.After, d.Reason = before, after, reason
		switch {
		case before != OutcomeBlocked && after == OutcomeBlocked:
			imp.NowBlocked = append(imp.NowBlocked, d.ImpactedDestination)
		case before == OutcomeBlocked:
			imp.NowAllowed = append(imp.NowAllowed, d.ImpactedDestination)
		default:
			imp.Other = append(imp.Other, d.ImpactedDestination)
		}
	}
	return imp, nil
}

// seenDestination is a destination of recent traffic and the address it resolved to.
type seenDestination struct {
	ImpactedDestination
	resolved string
}

// outcome decides d under p, as j (p compiled) judges it.
func outcome(p *catalog.NetworkPolicy, j *egress.Judge, dests *egress.ConnectionDestinations, src egress.Source, d *seenDestination) (string, string) {
	reason := j.Verdict(dests, src, d.Destination, d.resolved)
	switch {
	case reason == "":
		return OutcomeAllowed, ""
	case p.EnforcementMode == catalog.DryRun:
		return OutcomeDryRunDenial, reason
	}
	return OutcomeBlocked, reason
}

// recentDestinations gathers the destinations of the recent network events and calls,
// most events first.
func (s *Service) recentDestinations(ctx context.Context, since time.Time, conns []*catalog.Connection) ([]*seenDestination, error) {
	byKey := map[string]*seenDestination{}
	add := func(source, conn, dest, resolved, principal string, at time.Time) {
		k := source + "\x00" + conn + "\x00" + dest
		d := byKey[k]
		if d == nil {
			d = &seenDestination{ImpactedDestination: ImpactedDestination{Source: source, Connection: conn, Destination: dest}}
			byKey[k] = d
		}
		d.Count++
		if !at.Before(d.LastSeen) {
			d.LastSeen, d.Principal = at, principal
		}
		if resolved != "" {
			d.resolved = resolved
		}
	}
	var after int64
	for read := 0; read < impactNetworkEvents; {
		page, err := s.d.Store.ListNetworkEvents(ctx, catalog.NetworkEventFilter{Since: since, AfterSeq: after, Limit: LogMaxPage})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			add(e.Source, e.Connection, e.Destination, e.ResolvedAddress, e.Principal, e.Time)
		}
		read += len(page)
		if len(page) < LogMaxPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	hostOf := map[string]string{}
	for _, c := range conns {
		if d := connectionHostPort(c); d != "" {
			hostOf[c.Name] = d
		}
	}
	var before int64
	for read := 0; read < impactAuditEvents; {
		page, err := s.d.Store.ListAudit(ctx, catalog.AuditFilter{Since: since, Descending: true, BeforeSeq: before, Limit: LogMaxPage})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			switch {
			case e.ActionName == catalog.ActionUseConnection && e.Decision == catalog.DecisionAllow:
				// The call's record names where it went; older records only the connection.
				dest := e.Params["upstream_host"]
				if _, _, err := net.SplitHostPort(dest); err != nil {
					dest = hostOf[e.Connection]
				}
				if dest != "" {
					add(catalog.SourceProxy, e.Connection, dest, "", e.Principal, e.EventTime)
				}
			case e.ActionName == catalog.ActionEgressTunnel && e.Params["destination"] != "":
				add(catalog.SourceEgress, "", e.Params["destination"], "", e.Principal, e.EventTime)
			}
		}
		read += len(page)
		if len(page) < LogMaxPage {
			break
		}
		before = page[len(page)-1].Seq
	}
	out := make([]*seenDestination, 0, len(byKey))
	for _, d := range byKey {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Destination+out[i].Connection < out[j].Destination+out[j].Connection
	})
	return out, nil
}

// connectionHostPort is the host:port a connection's calls go to, "" when its host
// option does not say.
func connectionHostPort(c *catalog.Connection) string {
	u, err := url.Parse(c.Options[catalog.OptHost])
	if err != nil || u.Hostname() == "" {
		return ""
	}
	port := c.Options[catalog.OptPort]
	if port == "" {
		port = u.Port()
	}
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "http":
			port = "80"
		default:
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}
