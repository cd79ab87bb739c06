package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// ---- tokens ----

func (c *clientCLI) tokensCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tokens",
		Aliases: []string{"token"},
		Short:   "Create, list and revoke API tokens",
	}
	cmd.AddCommand(c.tokensCreate(), c.tokensList(), c.tokensRevoke())
	return cmd
}

func (c *clientCLI) tokensCreate() *cobra.Command {
	var (
		lifetime        cliLifetime
		lifetimeSeconds int64
		comment         string
		forUser         string
		forSP           string
	)
	cmd := &cobra.Command{
		Use:   "create [--lifetime 30d] [--comment C] [--for-user NAME | --for-service-principal APPID]",
		Short: "Create a token for yourself, or (admins) for a user or service principal",
		Long: `Create a token. The token value is printed once, alone on stdout, so that it can be
captured; it is stored only as a hash and cannot be shown again. The note and the
token's id go to stderr.

Every token expires: without --lifetime it lives 90 days (the server's default), and
--lifetime asks for another lifetime, in days (30d, 1d12h) or as a Go duration (8h,
90m), up to ten years (3650d). There is no token that never expires.`,
		Example: `  gatehouse tokens create --lifetime 30d --comment "laptop"
  AGENT_TOKEN=$(gatehouse tokens create --for-service-principal billing-agent --lifetime 1d12h)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			secs := lifetimeSeconds
			if cmd.Flags().Changed("lifetime") {
				secs = int64(time.Duration(lifetime) / time.Second)
			}
			if cmd.Flags().Changed("lifetime-seconds") && secs <= 0 {
				return errors.New("--lifetime-seconds: want a positive number")
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			var resp *httpapi.CreateTokenResponse
			if forUser != "" || forSP != "" {
				resp, err = api.CreateOBOToken(cmd.Context(), httpapi.CreateOBOTokenRequest{
					UserName: forUser, ApplicationID: forSP, LifetimeSeconds: secs, Comment: comment,
				})
			} else {
				resp, err = api.CreateToken(cmd.Context(), secs, comment)
			}
			if err != nil {
				return err
			}
			if c.output == "json" {
				return c.printJSON(resp)
			}
			if _, err := fmt.Fprintln(c.e.stdout, resp.TokenValue); err != nil {
				return err
			}
			fmt.Fprintf(c.e.stderr, "Created token %s (expires %s). Store the token value above now: it will not be shown again.\n",
				cliCell(resp.TokenInfo.TokenID), cliTime(resp.TokenInfo.ExpiryTime))
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(&lifetime, "lifetime", "lifetime in days or as a Go duration, e.g. 30d, 1d12h or 8h (default 90d, the server's)")
	f.Int64Var(&lifetimeSeconds, "lifetime-seconds", 0, "lifetime in seconds")
	f.StringVar(&comment, "comment", "", "what the token is for")
	f.StringVar(&forUser, "for-user", "", "admins: create the token for this user (userName)")
	f.StringVar(&forSP, "for-service-principal", "", "admins: create the token for this service principal (applicationId)")
	cmd.MarkFlagsMutuallyExclusive("lifetime", "lifetime-seconds")
	cmd.MarkFlagsMutuallyExclusive("for-user", "for-service-principal")
	return cmd
}

func (c *clientCLI) tokensList() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list [--all]",
		Aliases: []string{"ls"},
		Short:   "List your tokens, or (admins, --all) every principal's",
		Example: "  gatehouse tokens list\n  gatehouse tokens list --all",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			var l *httpapi.ListTokensResponse
			if all {
				l, err = api.ListAllTokens(cmd.Context())
			} else {
				l, err = api.ListTokens(cmd.Context())
			}
			if err != nil {
				return err
			}
			return c.show(l, func() error {
				header := []string{"ID", "COMMENT", "CREATED", "EXPIRES", "LAST USED"}
				if all {
					header = append([]string{"OWNER"}, header...)
				}
				rows := make([][]string, 0, len(l.TokenInfos))
				for _, t := range l.TokenInfos {
					r := []string{t.TokenID, t.Comment, cliTime(t.CreationTime), cliTime(t.ExpiryTime), cliTime(t.LastUsedTime)}
					if all {
						owner := t.OwnerName
						if owner == "" {
							owner = t.OwnerID
						}
						r = append([]string{owner}, r...)
					}
					rows = append(rows, r)
				}
				return c.table(header, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "admins: every principal's tokens")
	return cmd
}

func (c *clientCLI) tokensRevoke() *cobra.Command {
	var anyToken bool
	cmd := &cobra.Command{
		Use:     "revoke ID [--any]",
		Aliases: []string{"delete", "rm"},
		Short:   "Revoke a token by its id; --any (admins) revokes any principal's",
		Example: "  gatehouse tokens revoke 5f0c...\n  gatehouse tokens revoke 5f0c... --any",
		Args:    cliExactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if anyToken {
				err = api.DeleteAnyToken(cmd.Context(), args[0])
			} else {
				err = api.DeleteToken(cmd.Context(), args[0])
			}
			if err != nil {
				return err
			}
			return c.done("Revoked token %s.", args[0])
		},
	}
	cmd.Flags().BoolVar(&anyToken, "any", false, "admins: revoke a token of any principal")
	return cmd
}

// ---- users ----

func (c *clientCLI) usersCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "Manage users (admins); a user is named by its userName",
	}
	var filter string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Example: `  gatehouse users list
  gatehouse users list --filter 'userName eq "alice@example.com"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			l, err := api.ListUsers(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return c.show(l, func() error { return c.usersTable(l.Resources) })
		},
	}
	list.Flags().StringVar(&filter, "filter", "", "SCIM filter of the form ATTRIBUTE eq \"VALUE\"")

	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show a user and its groups",
		Example: "  gatehouse users get alice@example.com",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			u, err := api.UserByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if u, err = api.GetUser(cmd.Context(), u.ID); err != nil {
				return err
			}
			return c.show(u, func() error {
				return c.fields([][2]string{
					{"User name", u.UserName}, {"ID", u.ID}, {"Display name", u.DisplayName},
					{"Active", cliBool(u.Active)}, {"Groups", cliRefs(u.Groups)},
				})
			})
		},
	}

	var displayName string
	create := &cobra.Command{
		Use:     "create NAME [--display-name D]",
		Short:   "Create a user",
		Example: `  gatehouse users create alice@example.com --display-name "Alice Example"`,
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			u, err := api.CreateUser(cmd.Context(), httpapi.SCIMUser{UserName: args[0], DisplayName: displayName})
			if err != nil {
				return err
			}
			return c.show(u, func() error { return c.usersTable([]httpapi.SCIMUser{*u}) })
		},
	}
	create.Flags().StringVar(&displayName, "display-name", "", "display name")

	byName := func(ctx context.Context, api *httpapi.Client, name string) (string, error) {
		u, err := api.UserByName(ctx, name)
		if err != nil {
			return "", err
		}
		return u.ID, nil
	}
	del := c.principalDelete("user", "alice@example.com", byName, (*httpapi.Client).DeleteUser)
	activate := c.principalActive("user", "alice@example.com", true, byName, func(ctx context.Context, api *httpapi.Client, id string, p httpapi.SCIMPatch) error {
		_, err := api.PatchUser(ctx, id, p)
		return err
	})
	deactivate := c.principalActive("user", "alice@example.com", false, byName, func(ctx context.Context, api *httpapi.Client, id string, p httpapi.SCIMPatch) error {
		_, err := api.PatchUser(ctx, id, p)
		return err
	})
	cmd.AddCommand(list, get, create, del, activate, deactivate)
	return cmd
}

func (c *clientCLI) usersTable(us []httpapi.SCIMUser) error {
	rows := make([][]string, 0, len(us))
	for _, u := range us {
		rows = append(rows, []string{u.UserName, u.ID, u.DisplayName, cliBool(u.Active)})
	}
	return c.table([]string{"USER NAME", "ID", "DISPLAY NAME", "ACTIVE"}, rows)
}

// ---- service principals ----

func (c *clientCLI) servicePrincipalsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "service-principals",
		Aliases: []string{"service-principal", "sp"},
		Short:   "Manage service principals (admins): agents and services, named by applicationId",
	}
	var filter string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List service principals",
		Example: "  gatehouse service-principals list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			l, err := api.ListServicePrincipals(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return c.show(l, func() error { return c.spTable(l.Resources) })
		},
	}
	list.Flags().StringVar(&filter, "filter", "", "SCIM filter of the form ATTRIBUTE eq \"VALUE\"")

	get := &cobra.Command{
		Use:     "get APPID",
		Short:   "Show a service principal and its groups",
		Example: "  gatehouse service-principals get billing-agent",
		Args:    cliExactArgs("APPID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			sp, err := api.ServicePrincipalByAppID(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if sp, err = api.GetServicePrincipal(cmd.Context(), sp.ID); err != nil {
				return err
			}
			return c.show(sp, func() error {
				return c.fields([][2]string{
					{"Application ID", sp.ApplicationID}, {"ID", sp.ID}, {"Display name", sp.DisplayName},
					{"Active", cliBool(sp.Active)}, {"Groups", cliRefs(sp.Groups)},
				})
			})
		},
	}

	var displayName string
	create := &cobra.Command{
		Use:   "create [APPID] [--display-name D]",
		Short: "Create a service principal; without APPID the server generates one",
		Example: `  gatehouse service-principals create billing-agent --display-name "Billing agent"
  gatehouse service-principals create --display-name "Nightly sync"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sp := httpapi.SCIMServicePrincipal{DisplayName: displayName}
			if len(args) == 1 {
				sp.ApplicationID = args[0]
			}
			if sp.ApplicationID == "" && sp.DisplayName == "" {
				return errors.New("want an APPID, a --display-name or both")
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			out, err := api.CreateServicePrincipal(cmd.Context(), sp)
			if err != nil {
				return err
			}
			return c.show(out, func() error { return c.spTable([]httpapi.SCIMServicePrincipal{*out}) })
		},
	}
	create.Flags().StringVar(&displayName, "display-name", "", "display name")

	byAppID := func(ctx context.Context, api *httpapi.Client, appID string) (string, error) {
		sp, err := api.ServicePrincipalByAppID(ctx, appID)
		if err != nil {
			return "", err
		}
		return sp.ID, nil
	}
	patch := func(ctx context.Context, api *httpapi.Client, id string, p httpapi.SCIMPatch) error {
		_, err := api.PatchServicePrincipal(ctx, id, p)
		return err
	}
	cmd.AddCommand(list, get, create,
		c.principalDelete("service principal", "billing-agent", byAppID, (*httpapi.Client).DeleteServicePrincipal),
		c.principalActive("service principal", "billing-agent", true, byAppID, patch),
		c.principalActive("service principal", "billing-agent", false, byAppID, patch),
		c.federationPoliciesCommand(), // issue 12: workload identity federation
	)
	return cmd
}

func (c *clientCLI) spTable(sps []httpapi.SCIMServicePrincipal) error {
	rows := make([][]string, 0, len(sps))
	for _, sp := range sps {
		rows = append(rows, []string{sp.ApplicationID, sp.ID, sp.DisplayName, cliBool(sp.Active)})
	}
	return c.table([]string{"APPLICATION ID", "ID", "DISPLAY NAME", "ACTIVE"}, rows)
}

// principalDelete builds `delete NAME` for users and service principals.
func (c *clientCLI) principalDelete(kind, example string,
	resolve func(context.Context, *httpapi.Client, string) (string, error),
	del func(*httpapi.Client, context.Context, string) error,
) *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a " + kind + " (its tokens stop working)",
		Example: "  gatehouse " + cliKindCommand(kind) + " delete " + example,
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			id, err := resolve(cmd.Context(), api, args[0])
			if err != nil {
				return err
			}
			if err := del(api, cmd.Context(), id); err != nil {
				return err
			}
			return c.done("Deleted %s %s.", kind, args[0])
		},
	}
}

// principalActive builds `activate NAME` (on) and `deactivate NAME`. Deactivation takes
// effect at once: the principal's tokens and sessions stop working.
func (c *clientCLI) principalActive(kind, example string, on bool,
	resolve func(context.Context, *httpapi.Client, string) (string, error),
	patch func(context.Context, *httpapi.Client, string, httpapi.SCIMPatch) error,
) *cobra.Command {
	verb, short := "activate", "Activate a "+kind+" again"
	if !on {
		verb, short = "deactivate", "Deactivate a "+kind+" at once: its tokens and sessions stop working"
	}
	return &cobra.Command{
		Use:     verb + " NAME",
		Short:   short,
		Example: "  gatehouse " + cliKindCommand(kind) + " " + verb + " " + example,
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			id, err := resolve(cmd.Context(), api, args[0])
			if err != nil {
				return err
			}
			p := httpapi.SCIMPatch{
				Schemas:    []string{httpapi.SchemaPatchOp},
				Operations: []httpapi.SCIMPatchOp{{Op: "replace", Path: "active", Value: on}},
			}
			if err := patch(cmd.Context(), api, id, p); err != nil {
				return err
			}
			return c.done("%sd %s %s.", strings.ToUpper(verb[:1])+verb[1:], kind, args[0])
		},
	}
}

func cliKindCommand(kind string) string {
	if kind == "user" {
		return "users"
	}
	return "service-principals"
}

// ---- groups ----

func (c *clientCLI) groupsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "groups",
		Aliases: []string{"group"},
		Short:   "Manage groups and their members (admins); a group is named by its displayName",
	}
	var filter string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List groups",
		Example: "  gatehouse groups list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			l, err := api.ListGroups(cmd.Context(), filter)
			if err != nil {
				return err
			}
			return c.show(l, func() error { return c.groupsTable(l.Resources) })
		},
	}
	list.Flags().StringVar(&filter, "filter", "", "SCIM filter of the form ATTRIBUTE eq \"VALUE\"")

	get := &cobra.Command{
		Use:     "get NAME",
		Short:   "Show a group and its members",
		Example: "  gatehouse groups get data-eng",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			g, err := api.GroupByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g, err = api.GetGroup(cmd.Context(), g.ID); err != nil {
				return err
			}
			return c.show(g, func() error {
				if err := c.fields([][2]string{{"Name", g.DisplayName}, {"ID", g.ID}, {"Member of", cliRefs(g.Groups)}}); err != nil {
					return err
				}
				fmt.Fprintln(c.e.stdout)
				rows := make([][]string, 0, len(g.Members))
				for _, m := range g.Members {
					rows = append(rows, []string{m.Display, m.Type, m.Value})
				}
				return c.table([]string{"MEMBER", "TYPE", "ID"}, rows)
			})
		},
	}

	create := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a group",
		Example: "  gatehouse groups create data-eng",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			g, err := api.CreateGroup(cmd.Context(), httpapi.SCIMGroup{DisplayName: args[0]})
			if err != nil {
				return err
			}
			return c.show(g, func() error { return c.groupsTable([]httpapi.SCIMGroup{*g}) })
		},
	}

	del := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a group; its members lose what it granted them",
		Example: "  gatehouse groups delete data-eng",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			g, err := api.GroupByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := api.DeleteGroup(cmd.Context(), g.ID); err != nil {
				return err
			}
			return c.done("Deleted group %s.", args[0])
		},
	}

	cmd.AddCommand(list, get, create, del, c.groupsMember(true), c.groupsMember(false))
	return cmd
}

// groupsMember builds `add-member GROUP PRINCIPAL` (add) and `remove-member`.
func (c *clientCLI) groupsMember(add bool) *cobra.Command {
	use, short, example := "add-member GROUP PRINCIPAL", "Add a user, service principal or group to a group",
		"  gatehouse groups add-member data-eng alice@example.com\n  gatehouse groups add-member data-eng billing-agent"
	if !add {
		use, short, example = "remove-member GROUP PRINCIPAL", "Remove a member from a group; what the group granted it ends with the next request",
			"  gatehouse groups remove-member data-eng alice@example.com"
	}
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cliExactArgs("GROUP", "PRINCIPAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			g, err := api.GroupByName(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			id, err := cliPrincipalID(cmd.Context(), api, args[1])
			if err != nil {
				return err
			}
			op := httpapi.SCIMPatchOp{Op: "add", Path: "members", Value: []httpapi.SCIMRef{{Value: id}}}
			if !add {
				op = httpapi.SCIMPatchOp{Op: "remove", Path: `members[value eq ` + cliSCIMString(id) + `]`}
			}
			if _, err := api.PatchGroup(cmd.Context(), g.ID, httpapi.SCIMPatch{
				Schemas:    []string{httpapi.SchemaPatchOp},
				Operations: []httpapi.SCIMPatchOp{op},
			}); err != nil {
				return err
			}
			if add {
				return c.done("Added %s to group %s.", args[1], args[0])
			}
			return c.done("Removed %s from group %s.", args[1], args[0])
		},
	}
}

func (c *clientCLI) groupsTable(gs []httpapi.SCIMGroup) error {
	rows := make([][]string, 0, len(gs))
	for _, g := range gs {
		rows = append(rows, []string{g.DisplayName, g.ID, strconv.Itoa(len(g.Members))})
	}
	return c.table([]string{"NAME", "ID", "MEMBERS"}, rows)
}

// cliPrincipalID finds the SCIM id of the principal called name: a user's userName, a
// service principal's applicationId or a group's displayName (unique across the three).
func cliPrincipalID(ctx context.Context, api *httpapi.Client, name string) (string, error) {
	u, err := api.UserByName(ctx, name)
	if err == nil {
		return u.ID, nil
	} else if !cliNotFound(err) {
		return "", err
	}
	sp, err := api.ServicePrincipalByAppID(ctx, name)
	if err == nil {
		return sp.ID, nil
	} else if !cliNotFound(err) {
		return "", err
	}
	g, err := api.GroupByName(ctx, name)
	if err == nil {
		return g.ID, nil
	} else if !cliNotFound(err) {
		return "", err
	}
	return "", &httpapi.APIError{
		Status:  404,
		Code:    "RESOURCE_DOES_NOT_EXIST",
		Message: fmt.Sprintf("no user, service principal or group is called %q", name),
	}
}

func cliNotFound(err error) bool {
	var ae *httpapi.APIError
	return errors.As(err, &ae) && ae.Code == "RESOURCE_DOES_NOT_EXIST"
}

// cliSCIMString quotes s as a SCIM filter string literal.
func cliSCIMString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func cliRefs(refs []httpapi.SCIMRef) string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		if r.Display != "" {
			names = append(names, r.Display)
		} else {
			names = append(names, r.Value)
		}
	}
	return strings.Join(names, ", ")
}

// ---- whoami ----

func (c *clientCLI) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "whoami",
		Short:   "Show who the token belongs to, and its groups",
		Example: "  gatehouse whoami\n  gatehouse --profile prod whoami -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			me, err := api.Me(cmd.Context())
			if err != nil {
				return err
			}
			return c.show(me, func() error {
				name, kind := me.UserName, "user"
				if name == "" {
					name, kind = me.ApplicationID, "service principal"
				}
				return c.fields([][2]string{
					{"Name", name}, {"Kind", kind}, {"ID", me.ID}, {"Display name", me.DisplayName},
					{"Active", strconv.FormatBool(me.Active)}, {"Groups", cliRefs(me.Groups)},
				})
			})
		},
	}
}

// cliMaxLifetimeDays bounds the days of --lifetime well below a time.Duration overflow;
// the server's bound (ten years) is lower still.
const cliMaxLifetimeDays = 100_000

// cliLifetime is the value of --lifetime: a Go duration, optionally led by whole days
// ("30d", "1d12h", "8h"), of at least one second.
type cliLifetime time.Duration

func (l *cliLifetime) String() string {
	if *l == 0 {
		return ""
	}
	return time.Duration(*l).String()
}

// Type names the value in help text.
func (l *cliLifetime) Type() string { return "lifetime" }

// Set parses a lifetime.
func (l *cliLifetime) Set(s string) error {
	d, err := cliParseLifetime(s)
	if err != nil {
		return err
	}
	*l = cliLifetime(d)
	return nil
}

// cliParseLifetime parses "Nd" followed by an optional Go duration, or a Go duration
// alone. Errors quote the value: a lifetime is not a secret.
func cliParseLifetime(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q: want days or a Go duration, e.g. 30d, 1d12h or 8h", s)
	if s == "" {
		return 0, bad
	}
	var days int64
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		if i == 0 || i > 6 {
			return 0, bad
		}
		for _, r := range s[:i] {
			if r < '0' || r > '9' {
				return 0, bad
			}
			days = days*10 + int64(r-'0')
		}
		if days > cliMaxLifetimeDays {
			return 0, fmt.Errorf("%q: at most %d days", s, cliMaxLifetimeDays)
		}
		rest = s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d < 0 || (days > 0 && (rest[0] == '+' || rest[0] == '-')) {
			return 0, bad
		}
	}
	dayPart := time.Duration(days) * 24 * time.Hour
	if d > math.MaxInt64-dayPart {
		return 0, fmt.Errorf("%q: too long", s)
	}
	if dayPart+d < time.Second {
		return 0, fmt.Errorf("%q: want at least 1s", s)
	}
	return dayPart + d, nil
}
