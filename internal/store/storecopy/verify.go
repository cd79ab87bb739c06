package storecopy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Verify reads every record back from dst and compares it with src's through the
// catalog interfaces: the counts of each kind, and each record field by field (the
// sealed bytes, hashes and versions included; audit and network events in order). The
// audit log must also link in dst: each event's prev_hash is the hash of the one before
// it (a source log already broken at the same event is a note, copied as it was). It
// fills r's Verified counts (r from Copy, or nil for a new Report) and returns an error
// naming the first difference: a kind and a field, never a value.
func Verify(ctx context.Context, src, dst catalog.Store, r *Report) (*Report, error) {
	if r == nil {
		r = &Report{}
	}
	// Both sides are read with one clock reading: a family expiring meanwhile is
	// missing from both, not from one.
	now := time.Now()
	sn, err := read(ctx, src, now)
	if err != nil {
		return r, fmt.Errorf("verify: read the source: %w", err)
	}
	dn, err := read(ctx, dst, now)
	if err != nil {
		return r, fmt.Errorf("verify: read the destination: %w", err)
	}
	// Meta: the destination is read with the source's keys, whatever it can list.
	dn.meta = map[string][]byte{}
	for _, k := range sn.metaKeys {
		v, err := dst.GetMeta(ctx, k)
		if err != nil {
			return r, fmt.Errorf("verify: read meta %s from the destination: %w", k, err)
		}
		dn.meta[k] = v
	}
	var srcTools, dstTools []*catalog.MCPTool
	for _, c := range sn.connections {
		srcTools = append(srcTools, sn.tools[c.ID]...)
		dstTools = append(dstTools, dn.tools[c.ID]...)
	}
	var srcPolicy, dstPolicy []*catalog.NetworkPolicy
	if sn.policy != nil {
		srcPolicy = append(srcPolicy, sn.policy)
	}
	if dn.policy != nil {
		dstPolicy = append(dstPolicy, dn.policy)
	}
	sortGrants(sn.grants)
	sortGrants(dn.grants)
	sortMemberships(sn.memberships)
	sortMemberships(dn.memberships)
	checks := []struct {
		kind     string
		src, dst []any
		key      func(i int, v any) string
	}{
		{KindPrincipals, anys(sn.principals), anys(dn.principals), func(_ int, v any) string { return "principal " + v.(*catalog.Principal).ID }},
		{KindMemberships, anys(sn.memberships), anys(dn.memberships), func(i int, _ any) string { return fmt.Sprintf("membership #%d", i) }},
		{KindTokens, anys(sn.tokens), anys(dn.tokens), func(_ int, v any) string { return "token " + v.(*catalog.Token).ID }},
		{KindConnections, anys(sn.connections), anys(dn.connections), func(_ int, v any) string { return "connection " + v.(*catalog.Connection).Name }},
		{KindGrants, anys(sn.grants), anys(dn.grants), func(i int, _ any) string { return fmt.Sprintf("grant #%d", i) }},
		{KindMeta, metaRecords(sn), metaRecords(dn), func(_ int, v any) string { return "meta " + v.(metaRecord).Key }},
		{KindCredentials, anys(sn.credentials), anys(dn.credentials), func(_ int, v any) string {
			c := v.(*catalog.OAuthCredential)
			return "OAuth credential " + c.ConnectionID + "/" + c.PrincipalID
		}},
		{KindFederationPolicies, anys(sn.federation), anys(dn.federation), func(_ int, v any) string {
			return "federation policy " + v.(*catalog.FederationPolicy).ID
		}},
		{KindOAuthFamilies, anys(sn.families), anys(dn.families), func(_ int, v any) string {
			return "refresh family " + v.(*catalog.OAuthFamily).ID
		}},
		{KindNetworkPolicy, anys(srcPolicy), anys(dstPolicy), func(int, any) string { return "network policy" }},
		{KindMCPTools, anys(srcTools), anys(dstTools), func(_ int, v any) string {
			t := v.(*catalog.MCPTool)
			return "MCP tool " + t.ConnectionID + "/" + t.Name
		}},
	}
	for _, c := range checks {
		row := r.row(c.kind)
		row.Source = len(c.src)
		if len(c.src) != len(c.dst) {
			return r, fmt.Errorf("%w: the source holds %d %s, the destination %d", errMismatch, len(c.src), c.kind, len(c.dst))
		}
		for i := range c.src {
			if d := differs(c.src[i], c.dst[i]); d != "" {
				return r, fmt.Errorf("%w: %s differs in %s", errMismatch, c.key(i, c.src[i]), d)
			}
			row.Verified++
		}
	}
	if err := verifyNetworkEvents(ctx, src, dst, r); err != nil {
		return r, err
	}
	return r, verifyAudit(ctx, src, dst, r)
}

// metaRecord is one meta value, for comparison.
type metaRecord struct {
	Key   string
	Value []byte
}

func metaRecords(sn *snapshot) []any {
	keys := make([]string, 0, len(sn.meta))
	for k := range sn.meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = metaRecord{Key: k, Value: sn.meta[k]}
	}
	return out
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func sortGrants(gs []catalog.Grant) {
	slices.SortFunc(gs, func(a, b catalog.Grant) int {
		return strings.Compare(
			string(a.SecurableType)+"\x00"+a.SecurableID+"\x00"+a.PrincipalID+"\x00"+string(a.Privilege),
			string(b.SecurableType)+"\x00"+b.SecurableID+"\x00"+b.PrincipalID+"\x00"+string(b.Privilege))
	})
}

func sortMemberships(ms []catalog.Membership) {
	slices.SortFunc(ms, func(a, b catalog.Membership) int {
		return strings.Compare(a.GroupID+"\x00"+a.MemberID, b.GroupID+"\x00"+b.MemberID)
	})
}

// verifyNetworkEvents compares the two network logs page by page, in order. Seq is
// compared apart: a destination may number them differently, which is a note.
func verifyNetworkEvents(ctx context.Context, src, dst catalog.NetworkStore, r *Report) error {
	row := r.row(KindNetworkEvents)
	row.Source, row.Verified = 0, 0
	var sAfter, dAfter int64
	renumbered := 0
	for {
		sp, err := src.ListNetworkEvents(ctx, catalog.NetworkEventFilter{AfterSeq: sAfter, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("verify: read source network events: %w", err)
		}
		dp, err := dst.ListNetworkEvents(ctx, catalog.NetworkEventFilter{AfterSeq: dAfter, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("verify: read destination network events: %w", err)
		}
		row.Source += len(sp)
		if len(sp) != len(dp) {
			return fmt.Errorf("%w: the destination's network log differs in length after %d events", errMismatch, row.Verified)
		}
		if len(sp) == 0 {
			break
		}
		for i := range sp {
			s, d := *sp[i], *dp[i]
			if s.Seq != d.Seq {
				renumbered++
			}
			s.Seq, d.Seq = 0, 0
			if f := differs(&s, &d); f != "" {
				return fmt.Errorf("%w: network event #%d differs in %s", errMismatch, row.Verified, f)
			}
			row.Verified++
		}
		sAfter, dAfter = sp[len(sp)-1].Seq, dp[len(dp)-1].Seq
	}
	if renumbered > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d network events have other sequence numbers in the destination (same order)", renumbered))
	}
	return nil
}

// verifyAudit compares the two audit logs page by page in Seq order, every field but
// Seq (a destination may number them differently, which is a note), and checks that the
// destination's log links: every prev_hash is the hash of the event before it.
func verifyAudit(ctx context.Context, src, dst catalog.AuditStore, r *Report) error {
	row := r.row(KindAuditEvents)
	row.Source, row.Verified = 0, 0
	var sAfter, dAfter int64
	renumbered := 0
	prev := ""
	for {
		sp, err := src.ListAudit(ctx, catalog.AuditFilter{AfterSeq: sAfter, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("verify: read source audit events: %w", err)
		}
		dp, err := dst.ListAudit(ctx, catalog.AuditFilter{AfterSeq: dAfter, Limit: pageSize})
		if err != nil {
			return fmt.Errorf("verify: read destination audit events: %w", err)
		}
		row.Source += len(sp)
		if len(sp) != len(dp) {
			return fmt.Errorf("%w: the destination's audit log differs in length after %d events", errMismatch, row.Verified)
		}
		if len(sp) == 0 {
			break
		}
		for i := range sp {
			s, d := *sp[i], *dp[i]
			if s.Seq != d.Seq {
				renumbered++
			}
			if i > 0 && d.Seq <= dp[i-1].Seq {
				return fmt.Errorf("%w: the destination's audit log is out of order at event %s", errMismatch, d.EventID)
			}
			s.Seq, d.Seq = 0, 0
			if f := differs(&s, &d); f != "" {
				return fmt.Errorf("%w: audit event %s differs in %s", errMismatch, s.EventID, f)
			}
			// The hashes are equal to the source's (above); now the links.
			if prev != "" && d.PrevHash != prev {
				r.Notes = append(r.Notes, fmt.Sprintf("the source's audit chain does not link at event %s (copied as it is; run gatehouse audit verify)", d.EventID))
			}
			prev = d.Hash
			row.Verified++
		}
		sAfter, dAfter = sp[len(sp)-1].Seq, dp[len(dp)-1].Seq
	}
	if renumbered > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d audit events have other sequence numbers in the destination (same order, same hashes)", renumbered))
	}
	return nil
}

// WriteTable writes the report as a table: kind, in source, copied, verified; then the
// notes, and what is not copied.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tSOURCE\tCOPIED\tVERIFIED")
	for _, row := range r.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", row.Kind, row.Source, row.Copied, row.Verified)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		if _, err := fmt.Fprintln(w, "note: "+n); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, "not copied (transient): "+NotCopied)
	return err
}
