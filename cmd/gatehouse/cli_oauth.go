package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// inventoryCommand is `gatehouse inventory`: every credential held, with its state.
func (c *clientCLI) inventoryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "inventory",
		Short: "List every credential Gatehouse holds: shared and per user, with state and expirations (admins)",
		Long: `List every credential Gatehouse holds: shared and per user, with state and expirations (admins).

A user-to-machine connection nobody has logged in to yet holds no credential; it is
listed as one NEEDS_LOGIN row with the holder "shared" (OAUTH_U2M) or "(no user yet)"
(OAUTH_U2M_PER_USER). Once one user of a per-user connection has logged in, the rows
are the users who have; those who have not are not listed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			inv, err := api.Inventory(cmd.Context())
			if err != nil {
				return err
			}
			return c.show(inv, func() error {
				rows := [][]string{}
				for _, it := range inv.Credentials {
					rows = append(rows, []string{it.Connection, it.CredentialType, it.Holder, it.State, cliTime(it.AccessTokenExpiration),
						cliTime(it.RefreshTokenExpiration), cliTime(it.LastUsedAt), it.AuthorizedBy, fmt.Sprint(it.GranteeCount), it.Reason})
				}
				return c.table([]string{"CONNECTION", "TYPE", "HOLDER", "STATE", "ACCESS EXPIRES", "REFRESH EXPIRES", "LAST USED", "AUTHORIZED BY", "GRANTEES", "REASON"}, rows)
			})
		},
	}
}

// connectionsCheck is `gatehouse connections check NAME`.
func (c *clientCLI) connectionsCheck() *cobra.Command {
	return &cobra.Command{
		Use:     "check NAME",
		Short:   "Check an OAuth provider's prerequisites: authorization code grant, refresh tokens, custom redirect URI, confidential client, standard token endpoint, HTTPS",
		Example: "  gatehouse connections check github",
		Args:    cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			res, err := api.CheckProvider(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return c.show(res, func() error {
				return c.printChecks(res)
			})
		},
	}
}

// loginCommand is `gatehouse login CONN`: the URL a user opens to authorize.
func (c *clientCLI) loginCommand() *cobra.Command {
	var open bool
	cmd := &cobra.Command{
		Use:   "login CONNECTION",
		Short: "Print the browser URL that authorizes an OAuth user-to-machine connection (and open it where a browser is available)",
		Example: `  gatehouse login github
  gatehouse login github --open=false`,
		Args: cliExactArgs("CONNECTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			info, err := api.GetConnection(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := cliHasLogin(info); err != nil {
				return err
			}
			u := api.BaseURL() + "/connections/" + url.PathEscape(info.Name) + "/login"
			if c.output == "json" {
				return c.printJSON(map[string]string{"connection": info.Name, "login_url": u})
			}
			fmt.Fprintf(c.e.stdout, "Open this URL in a browser signed in to Gatehouse as yourself:\n\n    %s\n", u)
			if open && (c.e.getenv("DISPLAY") != "" || runtime.GOOS == "darwin") {
				opener := "xdg-open"
				if runtime.GOOS == "darwin" {
					opener = "open"
				}
				if path, err := exec.LookPath(opener); err == nil {
					p := exec.Command(path, u)
					p.Stdout, p.Stderr = nil, os.Stderr
					_ = p.Start()
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&open, "open", true, "open the URL in a browser when one is available")
	return cmd
}

// connectionsDisconnect is `gatehouse connections disconnect NAME [--user U]`.
func (c *clientCLI) connectionsDisconnect() *cobra.Command {
	var user string
	cmd := &cobra.Command{
		Use:   "disconnect NAME [--user NAME]",
		Short: "Delete your (or, with MANAGE, another user's) token of a per-user OAuth connection, revoking it at the provider",
		Args:  cliExactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := c.api()
			if err != nil {
				return err
			}
			if user == "" {
				me, err := api.Me(cmd.Context())
				if err != nil {
					return err
				}
				user = me.UserName
				if user == "" {
					user = me.ApplicationID
				}
			}
			if err := api.DeleteUserCredential(cmd.Context(), args[0], user); err != nil {
				return err
			}
			return c.show(map[string]string{"connection": args[0], "principal": user, "status": "disconnected"}, func() error {
				fmt.Fprintf(c.e.stdout, "Disconnected %s from %s.\n", user, args[0])
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&user, "user", "", "the user whose token to delete (default: you)")
	return cmd
}

// cliHasLogin refuses, before any URL is printed, a connection whose credential type has
// no browser login: only the user-to-machine types are authorized by a person.
func cliHasLogin(info *httpapi.ConnectionInfo) error {
	switch catalog.CredentialType(info.CredentialType) {
	case catalog.OAuthU2M, catalog.OAuthU2MPerUser:
		return nil
	case catalog.OAuthM2M:
		return fmt.Errorf("connection %s uses %s, which has no login: Gatehouse fetches its tokens itself with the client credentials; only %s and %s connections have a login",
			info.Name, info.CredentialType, catalog.OAuthU2M, catalog.OAuthU2MPerUser)
	case catalog.BearerToken:
		return fmt.Errorf("connection %s uses %s, which has no login: its token is set by its owner with `gatehouse connections update %s --option bearer_token=@FILE`; only %s and %s connections have a login",
			info.Name, info.CredentialType, info.Name, catalog.OAuthU2M, catalog.OAuthU2MPerUser)
	}
	return fmt.Errorf("connection %s uses credential type %q, which has no login; only %s and %s connections have a login",
		info.Name, info.CredentialType, catalog.OAuthU2M, catalog.OAuthU2MPerUser)
}

// cliCheckWidth is the terminal width check output fits: every line is at most this
// long, but for a single word (a URL) too long to wrap, kept whole so it can be copied.
const cliCheckWidth = 80

// printChecks prints provider checks for an 80-column terminal: one line per check with
// its result and name, then its evidence and fix wrapped and indented under it.
func (c *clientCLI) printChecks(res *httpapi.ProviderCheckResponse) error {
	var b strings.Builder
	b.WriteString("Redirect URI to register:\n")
	cliWrap(&b, cliCell(res.RedirectURI), "    ", "    ")
	for _, ch := range res.Checks {
		b.WriteString("\n")
		fmt.Fprintf(&b, "%-7s  %s\n", strings.ToUpper(cliCell(ch.Result)), cliCell(ch.Name))
		if ch.Evidence != "" {
			cliWrap(&b, "Evidence: "+cliCell(ch.Evidence), "         ", "                   ")
		}
		if ch.Fix != "" {
			cliWrap(&b, "Fix: "+cliCell(ch.Fix), "         ", "              ")
		}
	}
	_, err := io.WriteString(c.e.stdout, b.String())
	return err
}

// cliWrap writes text to b in lines of at most cliCheckWidth columns, the first line
// after first and the others after rest. A word longer than a line gets a line of its own.
func cliWrap(b *strings.Builder, text, first, rest string) {
	prefix, n := first, 0
	for _, word := range strings.Fields(text) {
		w := utf8.RuneCountInString(word)
		if n > 0 && utf8.RuneCountInString(prefix)+n+1+w > cliCheckWidth {
			b.WriteString("\n")
			prefix, n = rest, 0
		}
		if n == 0 {
			b.WriteString(prefix)
		} else {
			b.WriteString(" ")
			n++
		}
		b.WriteString(word)
		n += w
	}
	if n > 0 {
		b.WriteString("\n")
	}
}
