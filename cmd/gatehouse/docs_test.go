package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The documentation must not rot silently: these tests tie docs/api.md to the routes the
// server registers and docs/configuration.md to the flags of "gatehouse server".

const (
	routesFile = "../../internal/httpapi/routes.go"
	proxyFile  = "../../internal/httpapi/proxy.go"
	apiDoc     = "../../docs/api.md"
	configDoc  = "../../docs/configuration.md"
	cliDoc     = "../../docs/cli.md"
)

// scimResources are the values the SCIM loop of routes.go gives res.
var scimResources = []string{"Users", "Groups", "ServicePrincipals"}

var (
	// routeConstRE finds the path constants of routes() (uc, scim) and proxy.go.
	routeConstRE = regexp.MustCompile(`const (\w+)\s*=\s*"([^"]*)"`)
	// routeExprRE finds a concatenation of string literals and identifiers, such as
	// "GET "+uc+"/connections/{name}".
	routeExprRE = regexp.MustCompile(`(?:"[^"]*"|\b[a-z]\w*\b)(?:\s*\+\s*(?:"[^"]*"|\b[a-z]\w*\b))*`)
	routeRE     = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) /\S*$`)
	// docRouteRE finds a documented route: `METHOD /path`.
	docRouteRE = regexp.MustCompile("`((?:GET|HEAD|POST|PUT|PATCH|DELETE|ANY) /[^`\\s]*)`")
)

// registeredRoutes returns every "METHOD /path" pattern that routes.go registers, with
// the SCIM loop expanded, plus the transparent proxy that ServeHTTP routes before the mux.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	src := readFile(t, routesFile)
	// Route prefixes may be constants of any file of the package (mcpauth.go's mcpPath).
	consts := map[string]string{}
	files, err := filepath.Glob(filepath.Join(filepath.Dir(routesFile), "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the files beside %s: %v", routesFile, err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		for _, m := range routeConstRE.FindAllStringSubmatch(readFile(t, f), -1) {
			consts[m[1]] = m[2]
		}
	}
	var routes []string
	for _, expr := range routeExprRE.FindAllString(src, -1) {
		if !strings.HasPrefix(expr, `"`) {
			continue
		}
		values := []string{""}
		for _, part := range strings.Split(expr, "+") {
			part = strings.TrimSpace(part)
			var alts []string
			switch {
			case strings.HasPrefix(part, `"`):
				alts = []string{strings.Trim(part, `"`)}
			case part == "res":
				alts = scimResources
			case consts[part] != "":
				alts = []string{consts[part]}
			default:
				alts = nil // not a route expression
			}
			var next []string
			for _, v := range values {
				for _, a := range alts {
					next = append(next, v+a)
				}
			}
			values = next
		}
		for _, v := range values {
			if routeRE.MatchString(v) {
				routes = append(routes, v)
			}
		}
	}
	proxySrc := readFile(t, proxyFile)
	m := regexp.MustCompile(`const proxyPrefix = "([^"]*)"`).FindStringSubmatch(proxySrc)
	if m == nil {
		t.Fatalf("%s: proxyPrefix not found", proxyFile)
	}
	routes = append(routes, "ANY "+m[1]+"{name}/proxy/{path...}")
	slices.Sort(routes)
	routes = slices.Compact(routes)
	// A sanity floor: the parser must have found the API, not an empty list.
	if len(routes) < 40 {
		t.Fatalf("found only %d routes in %s; the parser no longer understands it: %q", len(routes), routesFile, routes)
	}
	return routes
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// TestDocsAPIRoutes checks that every route routes.go registers is documented in
// docs/api.md, and that every route docs/api.md documents exists.
func TestDocsAPIRoutes(t *testing.T) {
	routes := registeredRoutes(t)
	doc := readFile(t, apiDoc)
	for _, r := range routes {
		if !strings.Contains(doc, "`"+r+"`") {
			t.Errorf("route %q is registered but not documented in docs/api.md (as `%s`)", r, r)
		}
	}
	documented := docRouteRE.FindAllStringSubmatch(doc, -1)
	if len(documented) == 0 {
		t.Fatal("docs/api.md documents no route")
	}
	for _, m := range documented {
		if !slices.Contains(routes, m[1]) {
			t.Errorf("docs/api.md documents %q, which routes.go does not register", m[1])
		}
	}
}

// TestDocsServerFlags checks that every flag of "gatehouse server" and every
// GATEHOUSE_* variable behind one is documented in docs/configuration.md.
func TestDocsServerFlags(t *testing.T) {
	doc := readFile(t, configDoc)
	cmd := serverCommand(&env{getenv: func(string) string { return "" }})
	n := 0
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		n++
		if !strings.Contains(doc, "`--"+f.Name+"`") {
			t.Errorf("flag --%s of gatehouse server is not documented in docs/configuration.md (as `--%s`)", f.Name, f.Name)
		}
		if v := flagEnv[f.Name]; v != "" && !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("variable %s (--%s) is not documented in docs/configuration.md", v, f.Name)
		}
	})
	if n == 0 {
		t.Fatal("gatehouse server has no flags; the test no longer sees them")
	}
	for _, v := range []string{"GATEHOUSE_MASTER_KEY", "GATEHOUSE_BOOTSTRAP_TOKEN"} {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("variable %s is not documented in docs/configuration.md", v)
		}
	}
}

// subcommandRE finds a command listed under a command-group heading of cobra's help.
var subcommandRE = regexp.MustCompile(`^  ([a-z][a-z-]*)\s`)

// TestDocsCLICommands checks that every command of the CLI, as its help lists them, has
// a section in docs/cli.md.
func TestDocsCLICommands(t *testing.T) {
	doc := readFile(t, cliDoc)
	var walk func(path []string, depth int)
	seen := 0
	walk = func(path []string, depth int) {
		if depth > 3 {
			t.Fatalf("commands nested deeper than 3 under %q", path)
		}
		var out bytes.Buffer
		args := append(append([]string{}, path...), "--help")
		if err := run(t.Context(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out); err != nil {
			t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
		}
		inList := false
		for _, line := range strings.Split(out.String(), "\n") {
			switch {
			case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
				// Command groups ("Available Commands:", "Identity and tokens:") list
				// commands; the other headings do not.
				inList = !slices.Contains([]string{"Usage:", "Aliases:", "Examples:", "Flags:", "Global Flags:"}, line)
				continue
			case line == "":
				inList = false
				continue
			}
			m := subcommandRE.FindStringSubmatch(line)
			if !inList || m == nil || m[1] == "help" || m[1] == "completion" {
				continue
			}
			sub := append(append([]string{}, path...), m[1])
			seen++
			if name := "`gatehouse " + strings.Join(sub, " ") + "`"; !strings.Contains(doc, name) {
				t.Errorf("command %s is not documented in docs/cli.md", name)
			}
			walk(sub, depth+1)
		}
	}
	walk(nil, 0)
	if seen < 10 {
		t.Fatalf("found only %d commands; the test no longer reads the help", seen)
	}
}
