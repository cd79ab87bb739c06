package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// ---- audit ----

func (c *clientCLI) auditCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log and verify its hash chain (admins)",
		Long: `Read the audit log and verify its hash chain. Metastore admins only.

Every change (connections, grants, tokens, principals), every call through a connection
and every refusal is one audit event. Each event carries the hash of the one before it,
so that "gatehouse audit verify" can tell whether an event was changed or removed.`,
	}
	cmd.AddCommand(c.auditList(), c.auditVerify())
	return cmd
}

const cliAuditTimeUsage = "RFC 3339 (2025-03-14T15:09:26Z), a date (2025-03-14, UTC), epoch milliseconds, or a time ago (90m, 24h, 7d)"

func (c *clientCLI) auditList() *cobra.Command {
	var (
		since, until                  string
		principal, connection, action string
		limit                         int
		oldestFirst                   bool
	)
	cmd := &cobra.Command{
		Use:     "list [--since T] [--until T] [--principal P] [--connection C] [--action A] [--limit N] [--oldest-first]",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first",
		Long: `List audit events, newest first (--oldest-first for the other way), that match every
filter given. --since is inclusive and --until exclusive; each takes
` + cliAuditTimeUsage + `.
--action is one of:
` + cliAuditActionList() + `.

At most --limit events are shown (0 for all of them): the newest ones, or with
--oldest-first the oldest. The REASON column (why a call was refused or failed) is cut
to fit; "-o json" shows it whole, in request_params.reason.`,
		Example: `  gatehouse audit list --since 24h
  gatehouse audit list --principal billing-agent --connection github --action useConnection
  gatehouse audit list --since 2025-03-01 --until 2025-04-01 --limit 0 --oldest-first -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return errors.New("--limit must not be negative (0 lists every event)")
			}
			if err := cliOneOf("--action", action, catalog.AuditActions()); err != nil {
				return err
			}
			now := time.Now()
			q := httpapi.AuditQuery{Principal: principal, Connection: connection, Action: action, Order: httpapi.AuditOrderDesc}
			if oldestFirst {
				q.Order = httpapi.AuditOrderAsc
			}
			var err error
			if q.Since, err = cliAuditTime("since", since, now); err != nil {
				return err
			}
			if q.Until, err = cliAuditTime("until", until, now); err != nil {
				return err
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			var out httpapi.ListAuditResponse
			out.Events, out.NextPageToken, err = cliCollectPages("list audit events", limit, func(token string, max int) ([]httpapi.AuditEventInfo, string, error) {
				q.PageToken, q.MaxResults = token, max
				page, err := api.ListAudit(cmd.Context(), q)
				if err != nil {
					return nil, "", err
				}
				return page.Events, page.NextPageToken, nil
			})
			if err != nil {
				return err
			}
			return c.show(out, func() error {
				rows := make([][]string, 0, len(out.Events))
				for _, e := range out.Events {
					status := strconv.Itoa(e.Response.StatusCode)
					if e.Response.ErrorCode != "" {
						status += " " + e.Response.ErrorCode
					}
					rows = append(rows, []string{cliAuditTimeString(e.EventTime), e.ActionName, e.Principal, e.Connection, e.Decision, status, e.RequestID,
						cliCut(e.RequestParams["reason"], cliAuditReasonWidth)})
				}
				if err := c.table([]string{"TIME", "ACTION", "PRINCIPAL", "CONNECTION", "DECISION", "STATUS", "REQUEST ID", "REASON"}, rows); err != nil {
					return err
				}
				if out.NextPageToken != "" {
					fmt.Fprintf(c.e.stderr, "More events match: raise --limit (0 for all) or narrow the time range.\n")
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "only events at or after this time: "+cliAuditTimeUsage)
	f.StringVar(&until, "until", "", "only events before this time: "+cliAuditTimeUsage)
	f.StringVar(&principal, "principal", "", "only events of this principal (user name, application ID or group name)")
	f.StringVar(&connection, "connection", "", "only events on this connection")
	f.StringVar(&action, "action", "", "only events of this action, e.g. useConnection")
	f.IntVar(&limit, "limit", 100, "show at most this many events; 0 shows all")
	f.BoolVar(&oldestFirst, "oldest-first", false, "list the oldest events first (the default is newest first)")
	return cmd
}

func (c *clientCLI) auditVerify() *cobra.Command {
	var head string
	cmd := &cobra.Command{
		Use:   "verify [--head HASH]",
		Short: "Have the server check the audit log's keyed hash chain, and that it still holds a saved head",
		Long: `Have the server check the audit log's hash chain from its first event to its last. Each
event carries the hash of the one before it, and its own hash is an HMAC-SHA256 under a
key derived from the server's master key: a changed event breaks its own hash, a
removed, inserted or reordered one the next event's prev_hash, and someone who can
write the store but does not hold the master key cannot rehash the chain after a
change. The check runs on the server, the only place that holds the key.

Events written before the chain was keyed (legacy, unkeyed hashes) are accepted only as
the start of the log, followed by the keyed auditChainKeyed event that a server started
once with --audit-anchor-legacy-chain wrote after them; their number is shown.

The command prints the head hash (the newest event's). Save it somewhere the server
cannot write; later, "gatehouse audit verify --head HASH" fails unless the log still
contains that event and is intact up to the current head, which proves that nothing was
cut off the end in between. The first problem is reported and the command fails.`,
		Example: "  gatehouse audit verify\n  gatehouse audit verify --head 3f1c...e9a0\n  gatehouse audit verify -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			head = strings.ToLower(strings.TrimSpace(head))
			api, err := c.api()
			if err != nil {
				return err
			}
			res, err := api.VerifyAudit(cmd.Context(), head)
			if err != nil {
				return err
			}
			if !res.Intact {
				if c.output == "json" {
					if err := c.printJSON(res); err != nil {
						return err
					}
				}
				return cliChainBroken(res)
			}
			return c.show(res, func() error {
				legacy := ""
				if res.LegacyEvents > 0 {
					legacy = fmt.Sprintf(", of which %d legacy (unkeyed, written before the chain was keyed)", res.LegacyEvents)
				}
				if _, err := fmt.Fprintf(c.e.stdout, "audit chain intact: %d events%s\n", res.Events, legacy); err != nil {
					return err
				}
				if res.SavedHead != "" {
					if _, err := fmt.Fprintf(c.e.stdout, "saved head %s is in the log: nothing was cut off since\n", res.SavedHead); err != nil {
						return err
					}
				}
				_, err := fmt.Fprintf(c.e.stdout, "head hash: %s\n", res.HeadHash)
				return err
			})
		},
	}
	cmd.Flags().StringVar(&head, "head", "", "a head hash printed by an earlier verify: fail unless the log still contains it")
	return cmd
}

// cliChainBroken is the error of a verify that found the chain broken.
func cliChainBroken(res *httpapi.VerifyAuditResponse) error {
	b := res.Broken
	if b == nil {
		return errors.New("audit chain not intact")
	}
	where := fmt.Sprintf("after %d events", b.Index)
	if b.EventID != "" {
		where = fmt.Sprintf("at event #%d (event_id %s)", b.Index, b.EventID)
	}
	return fmt.Errorf("audit chain broken %s: %s; %d events verified intact before it, up to %s", where, b.Reason, res.Events, res.HeadHash)
}

// cliAuditTime parses a --since or --until value; "" is no bound.
func cliAuditTime(flag, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms >= 0 {
		return time.UnixMilli(ms).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 100*365 {
			return now.Add(-time.Duration(n) * 24 * time.Hour), nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want %s", flag, v, cliAuditTimeUsage)
}

// cliOneOf checks an enumerated flag's value against the valid ones (the same list the
// server checks), before any request: the error names them.
func cliOneOf(flag, value string, valid []string) error {
	var ce *catalog.Error
	if err := catalog.OneOf(flag, value, valid); errors.As(err, &ce) {
		return errors.New(ce.Message)
	}
	return nil
}

// cliAuditActionList is the list of audit actions for the help text, indented and
// wrapped to the terminal width.
func cliAuditActionList() string {
	var b strings.Builder
	cliWrap(&b, strings.Join(catalog.AuditActions(), ", "), "  ", "  ")
	return strings.TrimSuffix(b.String(), "\n")
}

// cliAuditReasonWidth is how much of an event's reason the table shows: enough to
// tell refusals apart; "-o json" has all of it.
const cliAuditReasonWidth = 60

// cliCut shortens s to at most n characters (runes), ending a cut text with "…".
func cliCut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n || n < 1 {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

// cliAuditTimeString shows epoch milliseconds in UTC, to the millisecond: events of one
// request are often in the same second.
func cliAuditTimeString(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
