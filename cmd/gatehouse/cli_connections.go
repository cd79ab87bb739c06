package main

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// ---- connections ----

func (c *clientCLI) connectionsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "connections",
		Aliases: []string{"connection", "conn"},
		Short:   "Create, inspect, change and delete connections (an endpoint and its credential)",
	}
	cmd.AddCommand(c.connectionsCreate(), c.connectionsGet(), c.connectionsList(), c.connectionsUpdate(), c.connectionsDelete(), c.connectionsCheck(), c.connectionsDisconnect())
	return cmd
}

const cliOptionUsage = "connection option KEY=VALUE (repeatable); VALUE @FILE reads a file and @- reads stdin, so that secrets stay out of shell history"

func (c *clientCLI) connectionsCreate() *cobra.Command {
	var (
		options        []string
		optionsJSON    string
		credentialType string
		comment        string
		connectionType string
	)
	cmd := &cobra.Command{
		Use:   "create NAME --option KEY=VALUE...",
		Short: "Create a connection",
		Long: `Create a connection: an endpoint (host, port, base_path) and the credential that
Gatehouse injects into every call through it. The credential type is inferred from the
options when it is unambiguous (bearer_token → BEARER_TOKEN; token_endpoint without
authorization_endpoint → OAUTH_M2M); pass --credential-type otherwise.

Secret options (bearer_token, client_secret) are stored sealed and never shown again.
Read them from a file (@FILE) or stdin (@-) rather than typing them on the command line.`,
		Example: `  # A static API key, read from stdin:
  printf %s "$GITHUB_TOKEN" | gatehouse connections create github \
      --option host=https://api.github.com --option bearer_token=@-

  # OAuth client credentials, the secret read from a file:
  gatehouse connections create billing --credential-type OAUTH_M2M \
      --option host=https://billing.example.com \
      --option token_endpoint=https://login.example.com/oauth2/token \
      --option client_id=gatehouse --option client_secret=@./billing-secret.txt`,
		Args: cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, err := c.jsonOptions(optionsJSON)
			if err != nil {
				return err
			}
			given, err := c.optionValues(options)
			if err != nil {
				return err
			}
			maps.Copy(opts, given)
			api, err := c.api()
			if err != nil {
				return err
			}
			info, err := api.CreateConnection(cmd.Context(), httpapi.CreateConnectionRequest{
				Name:           args[0],
				ConnectionType: strings.ToUpper(connectionType),
				CredentialType: strings.ToUpper(credentialType),
				Options:        opts,
				Comment:        comment,
			})
			if err != nil {
				return err
			}
			return c.showConnections(info, []httpapi.ConnectionInfo{*info})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&options, "option", nil, cliOptionUsage)
	f.StringVar(&optionsJSON, "options-json", "", `options as a JSON object, e.g. '{"host":"https://api.example.com"}'; --option values win`)
	f.StringVar(&credentialType, "credential-type", "", "BEARER_TOKEN, OAUTH_M2M, OAUTH_U2M or OAUTH_U2M_PER_USER (default: inferred from the options)")
	f.StringVar(&comment, "comment", "", "free-text comment")
	f.StringVar(&connectionType, "connection-type", "HTTP", "connection type")
	_ = f.MarkHidden("connection-type")
	return cmd
}

func (c *clientCLI) connectionsGet() *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Aliases: []string{"describe"},
		Short:   "Show a connection, its options (never its secrets) and its credential state",
		Example: "  gatehouse connections get github\n  gatehouse connections get github -o json",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			info, err := api.GetConnection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cliRedactOptions(info)
			return c.show(info, func() error { return c.describeConnection(info) })
		},
	}
}

func (c *clientCLI) connectionsList() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the connections you own or hold a privilege on (all of them for admins)",
		Example: "  gatehouse connections list\n  gatehouse connections list -o json | jq -r '.connections[].name'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			all, err := api.ListAllConnections(cmd.Context())
			if err != nil {
				return err
			}
			if all == nil {
				all = []httpapi.ConnectionInfo{}
			}
			return c.showConnections(&httpapi.ListConnectionsResponse{Connections: all}, all)
		},
	}
}

func (c *clientCLI) connectionsUpdate() *cobra.Command {
	var (
		options       []string
		optionsJSON   string
		removeOptions []string
		newName       string
		owner         string
		comment       string
		enable        bool
		disable       bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME [--option KEY=VALUE...] [--new-name N] [--owner P] [--comment C] [--enable|--disable]",
		Short: "Change a connection: rotate its secret, change options, rename, transfer, enable or disable it",
		Long: `Change a connection. Only what you pass changes.

--option sets options and keeps the others: the command reads the current options,
sets the given ones over them and sends the whole set; secret options that you do not
pass keep their stored values. So rotating a token is one command, with no consumer to
redeploy. --remove-option drops an option. A secret only goes where it was stored for:
changing host, port, token_endpoint, authorization_endpoint, auth_header_name or
auth_header_prefix needs the secret (bearer_token or client_secret) in the same
command, and signs every user of an OAuth connection out.

--disable switches the connection off for everyone at once; --enable switches it back.`,
		Example: `  # Rotate the token (read from stdin), keeping every other option:
  printf %s "$NEW_TOKEN" | gatehouse connections update github --option bearer_token=@-

  # Transfer ownership, rename, switch off:
  gatehouse connections update github --owner alice@example.com
  gatehouse connections update github --new-name github-prod
  gatehouse connections update github --disable`,
		Args: cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			var req httpapi.UpdateConnectionRequest
			if f.Changed("new-name") {
				req.NewName = &newName
			}
			if f.Changed("owner") {
				req.Owner = &owner
			}
			if f.Changed("comment") {
				req.Comment = &comment
			}
			if enable || disable {
				on := enable
				req.Enabled = &on
			}
			changeOptions := len(options) > 0 || optionsJSON != "" || len(removeOptions) > 0
			if !changeOptions && req.NewName == nil && req.Owner == nil && req.Comment == nil && req.Enabled == nil {
				return errors.New("nothing to update: pass --option, --remove-option, --new-name, --owner, --comment, --enable or --disable")
			}
			var given map[string]string
			if changeOptions {
				var err error
				if given, err = c.jsonOptions(optionsJSON); err != nil {
					return err
				}
				o, err := c.optionValues(options)
				if err != nil {
					return err
				}
				maps.Copy(given, o)
				for _, k := range removeOptions {
					if _, ok := given[k]; ok {
						return fmt.Errorf("option %s both set and removed", k)
					}
				}
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			if changeOptions {
				// Options replace the set on the server, so start from the current one.
				cur, err := api.GetConnection(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				merged := map[string]string{}
				for k, v := range cur.Options {
					// The server never returns secrets; should one slip through, leaving
					// it out keeps the stored value rather than echoing it back.
					if !catalog.SecretOptions[k] {
						merged[k] = v
					}
				}
				for _, k := range removeOptions {
					delete(merged, k)
				}
				maps.Copy(merged, given)
				req.Options = merged
			}
			info, err := api.UpdateConnection(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return c.showConnections(info, []httpapi.ConnectionInfo{*info})
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&options, "option", nil, cliOptionUsage)
	f.StringVar(&optionsJSON, "options-json", "", "options to set, as a JSON object; --option values win")
	f.StringArrayVar(&removeOptions, "remove-option", nil, "option KEY to remove (repeatable)")
	f.StringVar(&newName, "new-name", "", "rename the connection")
	f.StringVar(&owner, "owner", "", "transfer ownership to this principal")
	f.StringVar(&comment, "comment", "", "set the comment")
	f.BoolVar(&enable, "enable", false, "switch the connection on")
	f.BoolVar(&disable, "disable", false, "switch the connection off for everyone")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	return cmd
}

func (c *clientCLI) connectionsDelete() *cobra.Command {
	return &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a connection and every token stored for it",
		Example: "  gatehouse connections delete github",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if err := api.DeleteConnection(cmd.Context(), args[0]); err != nil {
				return err
			}
			return c.done("Deleted connection %s.", args[0])
		},
	}
}

// cliConnectionHost is the HOST column: the host option with the port when it is not
// the scheme's default (the server keeps the port in its own option), so that two
// connections to one host on different ports can be told apart.
func cliConnectionHost(opts map[string]string) string {
	host, port := opts["host"], opts["port"]
	if host == "" || port == "" {
		return host
	}
	scheme, _, _ := strings.Cut(strings.ToLower(host), "://")
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		return host
	}
	return host + ":" + port
}

// showConnections prints v as JSON, or the connections as a table.
func (c *clientCLI) showConnections(v any, conns []httpapi.ConnectionInfo) error {
	for i := range conns {
		cliRedactOptions(&conns[i])
	}
	if info, ok := v.(*httpapi.ConnectionInfo); ok {
		cliRedactOptions(info)
	}
	return c.show(v, func() error {
		rows := make([][]string, 0, len(conns))
		for _, ci := range conns {
			rows = append(rows, []string{ci.Name, ci.CredentialType, ci.Owner, cliConnectionHost(ci.Options), fmt.Sprint(ci.Enabled), cliConnectionState(ci)})
		}
		return c.table([]string{"NAME", "CREDENTIAL TYPE", "OWNER", "HOST", "ENABLED", "STATE"}, rows)
	})
}

func (c *clientCLI) describeConnection(ci *httpapi.ConnectionInfo) error {
	cs := ci.CredentialStatus
	kv := [][2]string{
		{"Name", ci.Name},
		{"Connection type", ci.ConnectionType},
		{"Credential type", ci.CredentialType},
		{"Owner", ci.Owner},
		{"Enabled", fmt.Sprint(ci.Enabled)},
		{"State", cliConnectionState(*ci)},
	}
	if cs.Reason != "" {
		kv = append(kv, [2]string{"Reason", cs.Reason})
	}
	if cs.AuthorizedBy != "" {
		kv = append(kv, [2]string{"Authorized by", cs.AuthorizedBy})
	}
	if cs.AccessTokenExpiration != 0 {
		kv = append(kv, [2]string{"Access token expires", cliTime(cs.AccessTokenExpiration)})
	}
	if cs.RefreshTokenExpiration != 0 {
		kv = append(kv, [2]string{"Refresh token expires", cliTime(cs.RefreshTokenExpiration)})
	}
	if cs.LastRefreshedAt != 0 {
		kv = append(kv, [2]string{"Last refreshed", cliTime(cs.LastRefreshedAt)})
	}
	if cs.LastUsedAt != 0 {
		kv = append(kv, [2]string{"Last used", cliTime(cs.LastUsedAt)})
	}
	kv = append(kv,
		[2]string{"URL", ci.URL},
		[2]string{"Comment", ci.Comment},
		[2]string{"Created", cliTime(ci.CreatedAt) + " by " + cliCell(ci.CreatedBy)},
		[2]string{"Updated", cliTime(ci.UpdatedAt) + " by " + cliCell(ci.UpdatedBy)},
	)
	for _, k := range cliSortedKeys(ci.Options) {
		kv = append(kv, [2]string{"Option " + k, ci.Options[k]})
	}
	return c.fields(kv)
}

func cliConnectionState(ci httpapi.ConnectionInfo) string {
	if ci.CredentialStatus.State != "" {
		return ci.CredentialStatus.State
	}
	return ci.ProvisioningInfo.State
}

// cliRedactOptions hides secret options, which the server never returns; this is a
// second line of defence so that the CLI cannot print one either.
func cliRedactOptions(ci *httpapi.ConnectionInfo) {
	for k := range ci.Options {
		if catalog.SecretOptions[k] {
			ci.Options[k] = "(hidden)"
		}
	}
}

// ---- grants ----

func (c *clientCLI) grantsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "grants",
		Aliases: []string{"grant", "permissions"},
		Short:   "Show, give and take back privileges on connections and the metastore",
		Long: `Privileges on a connection: USE_CONNECTION (call through it), MANAGE (change it and
its grants), ALL_PRIVILEGES. On the metastore: CREATE_CONNECTION. A principal is a user
name, a service principal's application id or a group name. Revokes take effect with
the very next request.`,
	}
	cmd.AddCommand(c.grantsGet(), c.grantsChange("grant"), c.grantsChange("revoke"), c.grantsEffective())
	return cmd
}

// cliSecurable turns the arguments into (securable type, name, rest): with --metastore
// the metastore "default", else the first argument names a connection.
func cliSecurable(metastore bool, args []string) (string, string, []string, error) {
	if metastore {
		return "metastore", "default", args, nil
	}
	if len(args) == 0 {
		return "", "", nil, errors.New("want a connection name, or --metastore")
	}
	return "connection", args[0], args[1:], nil
}

func (c *clientCLI) grantsGet() *cobra.Command {
	var metastore bool
	cmd := &cobra.Command{
		Use:     "get CONNECTION | --metastore",
		Aliases: []string{"show"},
		Short:   "Show who holds which privilege on a connection (or on the metastore)",
		Example: "  gatehouse grants get github\n  gatehouse grants get --metastore",
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, name, rest, err := cliSecurable(metastore, args)
			if err != nil {
				return err
			}
			if len(rest) != 0 {
				return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			pl, err := api.GetPermissions(cmd.Context(), typ, name)
			if err != nil {
				return err
			}
			return c.showPermissions(pl)
		},
	}
	cmd.Flags().BoolVar(&metastore, "metastore", false, "the metastore (CREATE_CONNECTION grants) instead of a connection")
	return cmd
}

// grantsChange builds `grants grant` (verb "grant") and `grants revoke`.
func (c *clientCLI) grantsChange(verb string) *cobra.Command {
	var metastore bool
	short, example := "Give a principal privileges on a connection (or CREATE_CONNECTION on the metastore)",
		"  gatehouse grants grant github alice@example.com USE_CONNECTION\n  gatehouse grants grant github data-eng USE_CONNECTION MANAGE\n  gatehouse grants grant --metastore billing-agent CREATE_CONNECTION"
	if verb == "revoke" {
		short, example = "Take privileges back from a principal; effective with the next request",
			"  gatehouse grants revoke github alice@example.com USE_CONNECTION\n  gatehouse grants revoke --metastore billing-agent CREATE_CONNECTION"
	}
	cmd := &cobra.Command{
		Use:     verb + " {CONNECTION | --metastore} PRINCIPAL PRIVILEGE...",
		Short:   short,
		Example: example,
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, name, rest, err := cliSecurable(metastore, args)
			if err != nil {
				return err
			}
			if len(rest) < 2 {
				return fmt.Errorf("want a PRINCIPAL and at least one PRIVILEGE (e.g. USE_CONNECTION)")
			}
			privs := make([]string, 0, len(rest)-1)
			for _, p := range rest[1:] {
				priv := cliPrivilege(p)
				if st := catalog.SecurableType(strings.ToUpper(typ)); !catalog.ValidPrivilege(st, catalog.Privilege(priv)) {
					return fmt.Errorf("%s is not a privilege on a %s; the privileges on a %s are %s", cliQuote(p), typ, typ, catalog.PrivilegeList(st))
				}
				privs = append(privs, priv)
			}
			change := httpapi.PermissionsChange{Principal: rest[0]}
			if verb == "grant" {
				change.Add = privs
			} else {
				change.Remove = privs
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			var before *httpapi.PermissionsList
			if verb == "revoke" {
				if before, err = api.GetPermissions(cmd.Context(), typ, name); err != nil {
					return err
				}
			}
			pl, err := api.UpdatePermissions(cmd.Context(), typ, name, httpapi.UpdatePermissions{Changes: []httpapi.PermissionsChange{change}})
			if err != nil {
				return err
			}
			if err := c.showPermissions(pl); err != nil {
				return err
			}
			if verb != "revoke" {
				return nil
			}
			after, err := api.GetEffectivePermissions(cmd.Context(), typ, name, change.Principal)
			if err != nil {
				c.warnf("revoked, but could not check what %s still holds on %s: %v", change.Principal, cliSecurableName(typ, name), err)
				return nil
			}
			return c.revokeReport(typ, name, change.Principal, privs, before, after)
		},
	}
	cmd.Flags().BoolVar(&metastore, "metastore", false, "the metastore (CREATE_CONNECTION) instead of a connection")
	if verb == "revoke" {
		cmd.Long = `Take privileges back from a principal; effective with the next request.

A privilege the principal does not hold directly draws a note on stderr: there was
nothing to revoke. A privilege the principal still holds afterwards, through a group,
as (a member of) the connection's owner, through the admins group, or through a direct
ALL_PRIVILEGES grant, is an error naming where it comes from: the exit status is 0
only when the principal no longer holds any of the privileges named.`
	}
	return cmd
}

func cliSecurableName(typ, name string) string {
	if typ == "metastore" {
		return "the metastore"
	}
	return name
}

// revokeReport compares what principal held directly before a revoke of privs with
// what it holds effectively after: a privilege not held directly gets a note, and one
// still held (inherited) is an error that says where it comes from.
func (c *clientCLI) revokeReport(typ, name, principal string, privs []string, before *httpapi.PermissionsList, after *httpapi.EffectivePermissionsList) error {
	on := cliSecurableName(typ, name)
	direct := map[string]bool{}
	for _, a := range before.PrivilegeAssignments {
		if strings.EqualFold(a.Principal, principal) {
			for _, p := range a.Privileges {
				direct[p] = true
			}
		}
	}
	var still []string
	for _, priv := range privs {
		if !direct[priv] {
			fmt.Fprintf(c.e.stderr, "%s does not hold %s on %s directly; nothing to revoke.\n", cliCell(principal), priv, on)
		}
		for _, a := range after.PrivilegeAssignments {
			if !strings.EqualFold(a.Principal, principal) {
				continue
			}
			for _, p := range a.Privileges {
				if p.Privilege == priv {
					still = append(still, fmt.Sprintf("%s still holds %s on %s %s", cliCell(principal), priv, on, cliSource(p)))
				}
			}
		}
	}
	if len(still) > 0 {
		return errors.New(strings.Join(still, "; ") + "; revoke it where it comes from (gatehouse grants effective shows every source)")
	}
	return nil
}

// cliSource says where an effective privilege comes from.
func cliSource(p httpapi.EffectivePrivilege) string {
	from := cliCell(p.InheritedFromName)
	switch p.InheritedFromType {
	case "":
		return "through a direct ALL_PRIVILEGES grant"
	case "GROUP":
		return "through group " + from
	case "OWNER":
		return "as the connection's owner (" + from + ")"
	case "ADMINS":
		return "through the admins group"
	}
	return "through " + strings.ToLower(cliCell(p.InheritedFromType)) + " " + from
}

func (c *clientCLI) grantsEffective() *cobra.Command {
	var (
		metastore bool
		principal string
	)
	cmd := &cobra.Command{
		Use:     "effective {CONNECTION | --metastore} [--principal P]",
		Short:   "Show a principal's effective privileges and where each comes from (group, owner, admins)",
		Example: "  gatehouse grants effective github --principal alice@example.com",
		RunE: func(cmd *cobra.Command, args []string) error {
			typ, name, rest, err := cliSecurable(metastore, args)
			if err != nil {
				return err
			}
			if len(rest) != 0 {
				return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
			}
			api, err := c.api()
			if err != nil {
				return err
			}
			ep, err := api.GetEffectivePermissions(cmd.Context(), typ, name, principal)
			if err != nil {
				return err
			}
			return c.show(ep, func() error {
				var rows [][]string
				for _, a := range ep.PrivilegeAssignments {
					for _, p := range a.Privileges {
						from := "direct"
						if p.InheritedFromType != "" {
							from = strings.TrimSpace(strings.ToLower(p.InheritedFromType) + " " + p.InheritedFromName)
						}
						rows = append(rows, []string{a.Principal, p.Privilege, from})
					}
				}
				return c.table([]string{"PRINCIPAL", "PRIVILEGE", "INHERITED FROM"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&metastore, "metastore", false, "the metastore instead of a connection")
	cmd.Flags().StringVar(&principal, "principal", "", "the principal (default: every principal)")
	return cmd
}

func (c *clientCLI) showPermissions(pl *httpapi.PermissionsList) error {
	return c.show(pl, func() error {
		rows := make([][]string, 0, len(pl.PrivilegeAssignments))
		for _, a := range pl.PrivilegeAssignments {
			rows = append(rows, []string{a.Principal, strings.Join(a.Privileges, ", ")})
		}
		return c.table([]string{"PRINCIPAL", "PRIVILEGES"}, rows)
	})
}

// cliPrivilege accepts use_connection, USE-CONNECTION and "USE CONNECTION" (as in SQL).
func cliPrivilege(p string) string {
	return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToUpper(strings.TrimSpace(p)))
}

// cliQuote quotes an argument for a message, cut to 64 bytes.
func cliQuote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
