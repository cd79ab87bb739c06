package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// ---- network ----

func (c *clientCLI) networkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Show and change the network policy, and list what it denied (admins)",
		Long: `Show and change the network policy, and list what it denied. Metastore admins only.

The network policy is the perimeter: it decides which destinations any outbound
connection may reach (calls through connections, OAuth token calls and the egress
proxy alike), whoever the caller is.

  restriction mode   FULL_ACCESS: every public destination; RESTRICTED_ACCESS: only the
                     allowed destinations (and, with allow_connection_destinations, the
                     exact host:port of each enabled connection, for calls through it
                     and OAuth token calls; never for the egress proxy)
  enforcement mode   ENFORCED: denials are refused; DRY_RUN: denials are only logged
  blocked            destinations refused in every mode; they win over everything
  allowed IP ranges  private ranges (CIDRs) that are otherwise always refused`,
	}
	cmd.AddCommand(c.networkGet(), c.networkSet(), c.networkEvents())
	return cmd
}

func (c *clientCLI) networkGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get",
		Short:   "Show the network policy",
		Example: "  gatehouse network get\n  gatehouse network get -o json > policy.json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			p, err := api.GetNetworkPolicy(cmd.Context())
			if err != nil {
				return err
			}
			return c.showNetworkPolicy(p)
		},
	}
}

// showNetworkPolicy prints the policy as the API's JSON or as key: value lines.
func (c *clientCLI) showNetworkPolicy(p *httpapi.NetworkPolicyInfo) error {
	return c.show(p, func() error {
		updated := "-"
		if p.UpdatedAt != 0 {
			updated = cliTime(p.UpdatedAt)
			if p.UpdatedBy != "" {
				updated += " by " + p.UpdatedBy
			}
		}
		rows := [][2]string{
			{"restriction mode", p.RestrictionMode},
			{"enforcement mode", p.EnforcementMode},
			{"allowed destinations", strings.Join(cliDestinationNames(p.AllowedInternetDestinations), ", ")},
			{"blocked destinations", strings.Join(cliDestinationNames(p.BlockedInternetDestinations), ", ")},
			{"connection hosts allowed", strconv.FormatBool(p.AllowConnectionDestinations)},
			{"allowed IP ranges", strings.Join(p.AllowedIPRanges, ", ")},
			{"version", strconv.FormatInt(p.Version, 10)},
			{"updated", updated},
		}
		if len(p.DevAllowedIPRanges) > 0 {
			rows = append(rows, [2]string{"open while --dev is on", strings.Join(p.DevAllowedIPRanges, ", ") + " (not stored)"})
		}
		return c.fields(rows)
	})
}

func cliDestinationNames(ds []httpapi.InternetDestination) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Destination
	}
	return out
}

// cliNetworkAttempts bounds the re-reads of a merge that lost a race with another
// writer: the merge is made again on the policy as it is now.
const cliNetworkAttempts = 3

// networkSetFlags are the changes `network set` makes.
type networkSetFlags struct {
	restrictionMode, enforcementMode string
	allow, block, ranges             []string
	removeAllow, removeBlock         []string
	removeRanges                     []string
	connectionDestinations           bool
	connectionDestinationsSet        bool
	replace                          bool
	fromFile                         string
}

func (c *clientCLI) networkSet() *cobra.Command {
	var fl networkSetFlags
	cmd := &cobra.Command{
		Use:   "set [--restriction-mode M] [--enforcement-mode M] [--allow DEST]... [--block DEST]... [--allow-ip-range CIDR]... [--replace | --from-file FILE]",
		Short: "Change the network policy",
		Long: `Change the network policy. By default the changes are merged into the current policy:
--allow, --block and --allow-ip-range add to its lists, --remove-allow, --remove-block
and --remove-ip-range take away from them, and the modes and
--allow-connection-destinations change only when given.

--replace starts from an empty policy (FULL_ACCESS, ENFORCED, no lists) instead, and
--from-file from a policy in a JSON file ("-" for stdin) as "gatehouse network get -o
json" prints it; the other flags then apply on top. A file that carries a version is
refused if the policy has changed since that version was read.

Destinations are DNS names, exact (api.github.com) or wildcards (*.slack.com); IP ranges
are CIDRs (10.0.0.0/8). The server checks and normalizes them.`,
		Example: `  # Only GitHub and the hosts of connections, denials logged but not enforced yet:
  gatehouse network set --restriction-mode RESTRICTED_ACCESS --enforcement-mode DRY_RUN \
      --allow api.github.com --allow-connection-destinations=true
  # Enforce it:
  gatehouse network set --enforcement-mode ENFORCED
  # Block one host, stop allowing another:
  gatehouse network set --block paste.example.com --remove-allow api.github.com
  # Edit the policy as a file:
  gatehouse network get -o json > policy.json && $EDITOR policy.json && gatehouse network set --from-file policy.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			fl.connectionDestinationsSet = f.Changed("allow-connection-destinations")
			if err := fl.check(); err != nil {
				return err
			}
			var file *cliPolicyFile
			if fl.fromFile != "" {
				var err error
				if file, err = c.readPolicyFile(fl.fromFile); err != nil {
					return err
				}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			for attempt := 1; ; attempt++ {
				cur, err := api.GetNetworkPolicy(ctx)
				if err != nil {
					return err
				}
				var next httpapi.NetworkPolicyInfo
				switch {
				case file != nil:
					next = file.NetworkPolicyInfo
					next.Version = cur.Version
					if file.Version != nil {
						next.Version = *file.Version
					}
				case fl.replace:
					next = httpapi.NetworkPolicyInfo{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced, Version: cur.Version}
				default:
					next = *cur
				}
				c.applyNetworkSet(&next, fl)
				stored, err := api.PutNetworkPolicy(ctx, next)
				var ae *httpapi.APIError
				if errors.As(err, &ae) && ae.Status == http.StatusConflict {
					// A merge is made again on the policy as it is now. A file's
					// version is the user's own check, and a replace would silently
					// discard the other writer's change: both stop.
					if file == nil && !fl.replace && attempt < cliNetworkAttempts {
						continue
					}
					return fmt.Errorf("%w\nthe network policy was changed by someone else since it was read; check it with \"gatehouse network get\" and run the command again", err)
				}
				if err != nil {
					return err
				}
				c.warnNetworkPolicy(stored)
				return c.showNetworkPolicy(stored)
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.restrictionMode, "restriction-mode", "", "FULL_ACCESS (every public destination) or RESTRICTED_ACCESS (only the allowed ones)")
	f.StringVar(&fl.enforcementMode, "enforcement-mode", "", "ENFORCED (refuse denials) or DRY_RUN (only log them)")
	f.StringSliceVar(&fl.allow, "allow", nil, "add an allowed destination: a DNS name or *.domain wildcard (repeatable, or comma-separated)")
	f.StringSliceVar(&fl.block, "block", nil, "add a blocked destination (repeatable, or comma-separated)")
	f.StringSliceVar(&fl.ranges, "allow-ip-range", nil, "add an allowed IP range in CIDR form, e.g. 10.0.0.0/8 (repeatable, or comma-separated)")
	f.StringSliceVar(&fl.removeAllow, "remove-allow", nil, "remove an allowed destination (repeatable)")
	f.StringSliceVar(&fl.removeBlock, "remove-block", nil, "remove a blocked destination (repeatable)")
	f.StringSliceVar(&fl.removeRanges, "remove-ip-range", nil, "remove an allowed IP range (repeatable)")
	f.BoolVar(&fl.connectionDestinations, "allow-connection-destinations", false, "in RESTRICTED_ACCESS, also allow the exact host:port of enabled connections, for calls through them (true or false)")
	f.BoolVar(&fl.replace, "replace", false, "start from an empty policy instead of the current one")
	f.StringVar(&fl.fromFile, "from-file", "", `start from the policy in this JSON file ("-" for stdin) instead of the current one`)
	return cmd
}

// check refuses contradictory or empty command lines.
func (fl *networkSetFlags) check() error {
	removing := len(fl.removeAllow)+len(fl.removeBlock)+len(fl.removeRanges) > 0
	switch {
	case fl.replace && fl.fromFile != "":
		return errors.New("--replace and --from-file both say where to start from; give one of them")
	case (fl.replace || fl.fromFile != "") && removing:
		return errors.New("--remove-allow, --remove-block and --remove-ip-range take away from the current policy; they make no sense with --replace or --from-file")
	}
	changes := fl.restrictionMode != "" || fl.enforcementMode != "" || len(fl.allow)+len(fl.block)+len(fl.ranges) > 0 ||
		removing || fl.connectionDestinationsSet || fl.replace || fl.fromFile != ""
	if !changes {
		return errors.New("nothing to change: give a mode, --allow, --block, --allow-ip-range, a --remove-* flag, --replace or --from-file (see --help)")
	}
	return nil
}

// applyNetworkSet makes the flags' changes to p: removals first, then additions, which
// skip what is already there.
func (c *clientCLI) applyNetworkSet(p *httpapi.NetworkPolicyInfo, fl networkSetFlags) {
	if fl.restrictionMode != "" {
		p.RestrictionMode = cliMode(fl.restrictionMode)
	}
	if fl.enforcementMode != "" {
		p.EnforcementMode = cliMode(fl.enforcementMode)
	}
	if fl.connectionDestinationsSet {
		p.AllowConnectionDestinations = fl.connectionDestinations
	}
	p.AllowedInternetDestinations = c.editDestinations("allowed", p.AllowedInternetDestinations, fl.removeAllow, fl.allow)
	p.BlockedInternetDestinations = c.editDestinations("blocked", p.BlockedInternetDestinations, fl.removeBlock, fl.block)
	p.AllowedIPRanges = c.editRanges(p.AllowedIPRanges, fl.removeRanges, fl.ranges)
}

// cliMode accepts a mode in any case, with - for _ (dry-run).
func cliMode(m string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(m), "-", "_"))
}

// cliDestinationKey is how the CLI compares destinations: the server stores them in
// lower case without a trailing dot.
func cliDestinationKey(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

func (c *clientCLI) editDestinations(list string, ds []httpapi.InternetDestination, remove, add []string) []httpapi.InternetDestination {
	out := make([]httpapi.InternetDestination, 0, len(ds)+len(add))
	drop := map[string]bool{}
	for _, r := range remove {
		drop[cliDestinationKey(r)] = true
	}
	have := map[string]bool{}
	for _, d := range ds {
		k := cliDestinationKey(d.Destination)
		if drop[k] {
			delete(drop, k)
			continue
		}
		have[k] = true
		out = append(out, d)
	}
	for _, r := range remove {
		if drop[cliDestinationKey(r)] {
			c.warnf("%s is not in the %s destinations; nothing to remove", cliCell(r), list)
		}
	}
	for _, a := range add {
		k := cliDestinationKey(a)
		if have[k] {
			continue
		}
		have[k] = true
		out = append(out, httpapi.InternetDestination{Destination: strings.TrimSpace(a), InternetDestinationType: httpapi.DestinationDNSName})
	}
	return out
}

// cliRangeKey compares CIDRs by the network they name (10.1.2.3/8 is 10.0.0.0/8); what
// does not parse is compared as text, and the server will say what is wrong with it.
func cliRangeKey(r string) string {
	r = strings.TrimSpace(r)
	if p, err := netip.ParsePrefix(r); err == nil {
		return p.Masked().String()
	}
	return r
}

func (c *clientCLI) editRanges(ranges, remove, add []string) []string {
	out := make([]string, 0, len(ranges)+len(add))
	drop := map[string]bool{}
	for _, r := range remove {
		drop[cliRangeKey(r)] = true
	}
	have := map[string]bool{}
	for _, r := range ranges {
		k := cliRangeKey(r)
		if drop[k] {
			delete(drop, k)
			continue
		}
		have[k] = true
		out = append(out, r)
	}
	for _, r := range remove {
		if drop[cliRangeKey(r)] {
			c.warnf("%s is not in the allowed IP ranges; nothing to remove", cliCell(r))
		}
	}
	for _, a := range add {
		k := cliRangeKey(a)
		if have[k] {
			continue
		}
		have[k] = true
		out = append(out, strings.TrimSpace(a))
	}
	return out
}

// warnNetworkPolicy points out a policy that denies everything.
func (c *clientCLI) warnNetworkPolicy(p *httpapi.NetworkPolicyInfo) {
	if p.RestrictionMode == catalog.RestrictedAccess && len(p.AllowedInternetDestinations) == 0 && !p.AllowConnectionDestinations {
		verb := "denies"
		if p.EnforcementMode == catalog.DryRun {
			verb = "would deny (DRY_RUN)"
		}
		c.warnf("the policy %s every destination: RESTRICTED_ACCESS with no allowed destinations and connection hosts not allowed", verb)
	}
}

// cliPolicyFile is a policy read from a file: the API's JSON, with version optional.
type cliPolicyFile struct {
	httpapi.NetworkPolicyInfo
	Version *int64 `json:"version"`
}

func (c *clientCLI) readPolicyFile(path string) (*cliPolicyFile, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = cliReadLimited(c.e.stdin)
	} else {
		b, err = cliReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("--from-file: %w", err)
	}
	var p cliPolicyFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("--from-file %s: not a network policy as \"gatehouse network get -o json\" prints it: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("--from-file %s: want exactly one JSON object", path)
	}
	return &p, nil
}

func (c *clientCLI) networkEvents() *cobra.Command {
	var (
		since, until                  string
		source, principal, accessType string
		limit                         int
	)
	cmd := &cobra.Command{
		Use:   "events [--since T] [--until T] [--source S] [--principal P] [--access-type A] [--limit N]",
		Short: "List what the network policy denied, oldest first",
		Long: `List network events, oldest first: outbound connections the network policy denied
(access type DROP) and, in DRY_RUN, the ones it would have denied (DRY_RUN_DENIAL).
--since is inclusive and --until exclusive; each takes ` + cliAuditTimeUsage + `.
--source is proxy (calls through connections), oauth (token endpoint calls) or egress
(the egress proxy).

At most --limit events are shown (0 for all of them).`,
		Example: `  gatehouse network events --since 24h
  gatehouse network events --access-type DRY_RUN_DENIAL --source egress --limit 0 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return errors.New("--limit must not be negative (0 lists every event)")
			}
			now := time.Now()
			q := httpapi.NetworkEventsQuery{Source: strings.ToLower(source), Principal: principal, AccessType: cliMode(accessType)}
			if err := cliOneOf("--source", q.Source, catalog.NetworkSources()); err != nil {
				return err
			}
			if err := cliOneOf("--access-type", q.AccessType, catalog.NetworkAccessTypes()); err != nil {
				return err
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
			var out httpapi.ListNetworkEventsResponse
			out.Events, out.NextPageToken, err = cliCollectPages("list network events", limit, func(token string, max int) ([]httpapi.NetworkEventInfo, string, error) {
				q.PageToken, q.MaxResults = token, max
				page, err := api.ListNetworkEvents(cmd.Context(), q)
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
					rows = append(rows, []string{cliAuditTimeString(e.Time), e.AccessType, e.Source, e.Principal,
						e.Destination, e.ResolvedAddress, e.Connection, e.Reason})
				}
				if err := c.table([]string{"TIME", "ACCESS", "SOURCE", "PRINCIPAL", "DESTINATION", "RESOLVED", "CONNECTION", "REASON"}, rows); err != nil {
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
	f.StringVar(&source, "source", "", "only events of this source: proxy, oauth or egress")
	f.StringVar(&principal, "principal", "", "only events of this principal (user name or application ID)")
	f.StringVar(&accessType, "access-type", "", "only events of this access type: DROP or DRY_RUN_DENIAL")
	f.IntVar(&limit, "limit", 100, "show at most this many events; 0 shows all")
	return cmd
}
