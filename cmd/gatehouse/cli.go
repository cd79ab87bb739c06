package main

// The client commands: every command but `server` is a client of the HTTP API. This
// file holds what they share: configuration (flags, GATEHOUSE_* env, the profile file),
// option parsing with secrets read from files or stdin, and output (tables or JSON).

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

const (
	cliDefaultProfile = "DEFAULT"
	// cliMaxSecretFile bounds what @FILE and @- read: an option value, not a disk image.
	cliMaxSecretFile = 1 << 20
)

// clientCLI is the state of one client command line: the global flags and the world.
type clientCLI struct {
	e       *env
	root    *cobra.Command // its Context is the command line's (issue 12: token renewal)
	host    string
	profile string
	output  string
}

// addClientCommands adds the global client flags and every client command to root.
func addClientCommands(root *cobra.Command, e *env) {
	c := &clientCLI{e: e, root: root}
	pf := root.PersistentFlags()
	pf.StringVar(&c.host, "host", "", "Gatehouse server URL, e.g. https://gatehouse.example.com (default $GATEHOUSE_HOST, else the profile's host)")
	pf.StringVar(&c.profile, "profile", "", `profile in the config file (default $GATEHOUSE_PROFILE, else "DEFAULT")`)
	pf.StringVarP(&c.output, "output", "o", "table", "output format: table or json")

	root.AddGroup(
		&cobra.Group{ID: "govern", Title: "Connections and grants:"},
		&cobra.Group{ID: "identity", Title: "Identity and tokens:"},
	)
	for _, cmd := range []*cobra.Command{c.connectionsCommand(), c.grantsCommand(), c.callCommand(), c.loginCommand(), c.inventoryCommand(), c.networkCommand(), c.auditCommand(), c.mcpCommand(),
		c.sqlCommand(), // SQL governance statements (issue 14)
	} {
		cmd.GroupID = "govern"
		root.AddCommand(cmd)
	}
	for _, cmd := range []*cobra.Command{c.tokensCommand(), c.usersCommand(), c.servicePrincipalsCommand(), c.groupsCommand(), c.whoamiCommand(), c.authCommand()} {
		cmd.GroupID = "identity"
		root.AddCommand(cmd)
	}
	if root.Long != "" {
		return
	}
	root.Long = root.Short + `.

Every command but "server" is a client of a Gatehouse server. It finds the server and
its token in this order: --host, then GATEHOUSE_HOST and GATEHOUSE_TOKEN, then a profile
of the config file $HOME/.gatehouse/config (GATEHOUSE_CONFIG_FILE names another file;
--profile or GATEHOUSE_PROFILE picks the profile, "DEFAULT" if neither):

  [DEFAULT]
  host  = https://gatehouse.example.com
  token = <a personal access token>

"gatehouse auth login" writes such a profile for you, signing in through the browser,
with a token that renews itself. Keep the file private (chmod 600). Output is a table for people; -o json prints the
API's JSON for programs.`
}

// ---- configuration ----

// cliTarget is where the commands send their requests.
type cliTarget struct {
	host  string
	token string
}

// resolve finds the host and token: flag, then env, then the profile in the config
// file. It reports every missing piece at once and says where to set it.
func (c *clientCLI) resolve() (cliTarget, error) {
	var t cliTarget
	t.host = c.host
	if t.host == "" {
		t.host = c.getenv("GATEHOUSE_HOST")
	}
	t.token = c.getenv("GATEHOUSE_TOKEN")

	profile, explicit, path := c.configRef()
	where := fmt.Sprintf("profile [%s] of %s", profile, path)
	if path == "" {
		where = fmt.Sprintf("profile [%s] of $HOME/.gatehouse/config (HOME is not set)", profile)
	}

	// The file is read only when it is needed or a profile was asked for by name, so
	// that env-only setups (CI) work without one.
	if path != "" && (t.host == "" || t.token == "" || explicit) {
		sections, err := c.readConfigFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if explicit {
				return t, fmt.Errorf("profile %q: config file %s does not exist", profile, path)
			}
			where += " (file not found)"
		case err != nil:
			return t, err
		default:
			p, ok := sections[profile]
			if !ok && explicit {
				return t, fmt.Errorf("profile %q not found in %s", profile, path)
			}
			if t.host == "" {
				t.host = p["host"]
			}
			if t.token == "" {
				t.token = p["token"]
				// issue 12: a token of `gatehouse auth login` renews itself; a token
				// from GATEHOUSE_TOKEN never is.
				if p[cliKeyRefreshToken] != "" {
					if t.token, err = c.renewProfileToken(path, profile, p); err != nil {
						return t, err
					}
				}
			}
		}
	}

	var errs []error
	if t.host == "" {
		errs = append(errs, fmt.Errorf("no Gatehouse host: pass --host, set GATEHOUSE_HOST, or set host in %s", where))
	} else if h, err := cliNormalizeHost(t.host); err != nil {
		errs = append(errs, err)
	} else {
		t.host = h
	}
	if t.token == "" {
		errs = append(errs, fmt.Errorf("no token: set GATEHOUSE_TOKEN, or set token in %s", where))
	}
	if err := errors.Join(errs...); err != nil {
		return t, err
	}
	if u, _ := url.Parse(t.host); u.Scheme == "http" && !cliIsLoopback(u.Hostname()) {
		c.warnf("sending the token over plain http to %s; use https outside a local machine", u.Host)
	}
	return t, nil
}

// api returns a client for the resolved server, and checks -o.
func (c *clientCLI) api() (*httpapi.Client, error) {
	if c.output != "table" && c.output != "json" {
		return nil, fmt.Errorf("--output %q: want table or json", c.output)
	}
	t, err := c.resolve()
	if err != nil {
		return nil, err
	}
	return httpapi.NewClient(t.host, t.token, nil), nil
}

func (c *clientCLI) getenv(k string) string {
	if c.e.getenv == nil {
		return ""
	}
	return c.e.getenv(k)
}

func (c *clientCLI) warnf(format string, args ...any) {
	fmt.Fprintf(c.e.stderr, "gatehouse: warning: "+format+"\n", args...)
}

// readConfigFile parses the INI config file: [section] headers, key = value lines,
// # and ; comments. It warns when the file, which holds tokens, is open to others.
func (c *clientCLI) readConfigFile(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read config file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		c.warnf("config file %s is accessible by group or others (mode %04o); it holds tokens: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	sections, err := cliParseConfig(io.LimitReader(f, cliMaxSecretFile))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return sections, nil
}

// cliParseConfig parses the INI format of the config file. Keys are case-insensitive;
// section names are not. Errors name the line but never echo it: it may hold a token.
func cliParseConfig(r io.Reader) (map[string]map[string]string, error) {
	sections := map[string]map[string]string{}
	var cur map[string]string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") || strings.TrimSpace(line[1:len(line)-1]) == "" {
				return nil, fmt.Errorf("line %d: bad section header", n)
			}
			name := strings.TrimSpace(line[1 : len(line)-1])
			if sections[name] == nil {
				sections[name] = map[string]string{}
			}
			cur = sections[name]
		default:
			k, v, ok := strings.Cut(line, "=")
			k = strings.ToLower(strings.TrimSpace(k))
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: want key = value", n)
			}
			if cur == nil {
				return nil, fmt.Errorf("line %d: key %q outside a [section]", n, k)
			}
			cur[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sections, nil
}

// cliNormalizeHost checks that host is an http(s) URL and drops a trailing slash.
func cliNormalizeHost(host string) (string, error) {
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("host %q: want a URL such as https://gatehouse.example.com", host)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("host %q: want scheme, host and an optional path only", u.Redacted())
	}
	return strings.TrimRight(host, "/"), nil
}

func cliIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ---- options and secrets ----

// optionValues reads --option KEY=VALUE flags. VALUE "@FILE" reads the file, "@-" reads
// stdin (once), each with one trailing newline trimmed, and "@@x" means the literal "@x".
// Secrets given on the command line itself draw a warning: they stay in shell history.
// Errors never echo a value.
func (c *clientCLI) optionValues(flags []string) (map[string]string, error) {
	opts := map[string]string{}
	stdinUsed := false
	for i, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--option #%d: want KEY=VALUE", i+1)
		}
		if _, dup := opts[k]; dup {
			return nil, fmt.Errorf("--option %s given twice", k)
		}
		switch {
		case strings.HasPrefix(v, "@@"):
			v = v[1:]
		case v == "@-":
			if stdinUsed {
				return nil, fmt.Errorf("--option %s=@-: only one option can read stdin", k)
			}
			stdinUsed = true
			b, err := cliReadLimited(c.e.stdin)
			if err != nil {
				return nil, fmt.Errorf("--option %s: read stdin: %w", k, err)
			}
			v = cliTrimNewline(b)
		case strings.HasPrefix(v, "@"):
			b, err := cliReadFile(v[1:])
			if err != nil {
				return nil, fmt.Errorf("--option %s: %w", k, err)
			}
			v = cliTrimNewline(b)
		default:
			if catalog.SecretOptions[k] && v != "" {
				c.warnf("%s given on the command line stays in shell history; pass %s=@FILE or %s=@- (stdin) instead", k, k, k)
			}
		}
		opts[k] = v
	}
	return opts, nil
}

// jsonOptions parses --options-json, a JSON object of string values.
func (c *clientCLI) jsonOptions(s string) (map[string]string, error) {
	if s == "" {
		return map[string]string{}, nil
	}
	var opts map[string]string
	if err := json.Unmarshal([]byte(s), &opts); err != nil {
		return nil, errors.New("--options-json: want a JSON object of string values")
	}
	for k := range opts {
		if catalog.SecretOptions[k] {
			c.warnf("%s given on the command line stays in shell history; pass --option %s=@FILE or @- instead", k, k)
		}
	}
	return opts, nil
}

func cliReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return cliReadLimited(f)
}

func cliReadLimited(r io.Reader) ([]byte, error) {
	return cliReadLimitedN(r, cliMaxSecretFile)
}

// cliReadLimitedN reads r to its end, refusing more than n bytes.
func cliReadLimitedN(r io.Reader, n int64) ([]byte, error) {
	if r == nil {
		return nil, errors.New("no input")
	}
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("more than %d bytes", n)
	}
	return b, nil
}

func cliTrimNewline(b []byte) string {
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

// ---- output ----

// printJSON prints v as indented JSON.
func (c *clientCLI) printJSON(v any) error {
	enc := json.NewEncoder(c.e.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// table prints rows under header, aligned.
func (c *clientCLI) table(header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, s := range r {
			cells[i] = cliCell(s)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// fields prints key: value lines, aligned.
func (c *clientCLI) fields(kv [][2]string) error {
	tw := tabwriter.NewWriter(c.e.stdout, 0, 4, 2, ' ', 0)
	for _, p := range kv {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], cliCell(p[1]))
	}
	return tw.Flush()
}

// show prints v as JSON with -o json, else calls human.
func (c *clientCLI) show(v any, human func() error) error {
	if c.output == "json" {
		return c.printJSON(v)
	}
	return human()
}

// done prints a confirmation for people; programs (-o json) get nothing but the exit code.
func (c *clientCLI) done(format string, args ...any) error {
	if c.output == "json" {
		return nil
	}
	_, err := fmt.Fprintf(c.e.stdout, format+"\n", args...)
	return err
}

// cliCell makes s fit one table cell: no tabs, newlines or terminal escapes, which a
// server-provided string (a comment, a display name) could otherwise carry.
func cliCell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

// cliTime formats epoch milliseconds; 0 is unknown, negative is never.
func cliTime(ms int64) string {
	switch {
	case ms == 0:
		return "-"
	case ms < 0:
		return "never"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

func cliBool(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func cliSortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cliExactArgs is cobra.ExactArgs with the names of the arguments in the message.
func cliExactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("%s: want %d argument(s): %s; got %d", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// cliCollectPages reads an event list page by page until limit events (0: all), with
// fetch returning one page for a token and a page size, and the next page's token.
// A server that repeats a token is an error rather than an endless loop.
func cliCollectPages[T any](op string, limit int, fetch func(token string, max int) ([]T, string, error)) ([]T, string, error) {
	out := []T{}
	token := ""
	for {
		max := 1000
		if limit > 0 {
			max = min(1000, limit-len(out))
		}
		page, next, err := fetch(token, max)
		if err != nil {
			return nil, "", err
		}
		out = append(out, page...)
		if next == "" || (limit > 0 && len(out) >= limit) {
			return out, next, nil
		}
		if next == token {
			return nil, "", fmt.Errorf("%s: server repeated page token", op)
		}
		token = next
	}
}
