package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/store/postgres/pgtest"
)

// authWorld is a real Gatehouse with the user alice, and a CLI config file of its own.
type authWorld struct {
	t          *testing.T
	ts         *testServer
	aliceToken string
	cfg        string
	// seen collects what the CLI printed and every secret the test saw, for the canary scan.
	mu      sync.Mutex
	output  bytes.Buffer
	secrets map[string]string
}

func newAuthWorld(t *testing.T, env map[string]string, args ...string) *authWorld {
	t.Helper()
	ts := startServer(t, "", env, args...)
	_, alice := ts.mkUser("alice@example.com")
	ts.must("POST", "/api/2.1/unity-catalog/connections", ts.Admin, map[string]any{"name": "weather", "options": map[string]string{
		"host": "https://api.weather.example", "bearer_token": "CANARY-cli-auth-bearer"}}, nil)
	ts.grant("connection", "weather", "alice@example.com", "USE_CONNECTION")
	return &authWorld{t: t, ts: ts, aliceToken: alice, cfg: filepath.Join(t.TempDir(), "gh", "config"), secrets: map[string]string{}}
}

func (w *authWorld) secret(name, value string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(value) >= 20 { // the test's own placeholders are shorter: no false alarms
		w.secrets[name+" "+value[:min(6, len(value))]] = value
	}
}

// run runs one CLI command line with the config file, the opener and extra env; it
// returns stdout, stderr and the error.
func (w *authWorld) run(open func(context.Context, string) error, env map[string]string, args ...string) (string, string, error) {
	w.t.Helper()
	return w.runTo(open, env, nil, args...)
}

func (w *authWorld) runTo(open func(context.Context, string) error, env map[string]string, stderr io.Writer, args ...string) (string, string, error) {
	e := map[string]string{"HOME": w.t.TempDir(), "GATEHOUSE_CONFIG_FILE": w.cfg}
	for k, v := range env {
		e[k] = v
	}
	if open == nil {
		open = func(context.Context, string) error { return errors.New("this test opens no browser") }
	}
	var out, errOut bytes.Buffer
	var ew io.Writer = &errOut
	if stderr != nil {
		ew = io.MultiWriter(&errOut, stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A browser driver that fails ends the login at once instead of its 5-minute wait.
	// The login returns once it has answered the browser; the driver's reading of that
	// answer is waited for too.
	var drivers sync.WaitGroup
	opener := func(ctx context.Context, u string) error {
		drivers.Add(1)
		defer drivers.Done()
		err := open(ctx, u)
		if err != nil {
			cancel()
		}
		return err
	}
	err := run(withCLIHooks(ctx, cliHooks{open: opener}), args, mapEnv(e), strings.NewReader(""), &out, ew)
	drivers.Wait()
	w.mu.Lock()
	w.output.Write(out.Bytes())
	w.output.Write(errOut.Bytes())
	if err != nil {
		w.output.WriteString(err.Error())
	}
	w.mu.Unlock()
	return out.String(), errOut.String(), err
}

func (w *authWorld) profiles() map[string]map[string]string {
	w.t.Helper()
	s, err := cliReadProfiles(w.cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, p := range s {
		w.secret("token", p[cliKeyToken])
		w.secret("refresh token", p[cliKeyRefreshToken])
	}
	return s
}

func (w *authWorld) file() string {
	w.t.Helper()
	b, err := os.ReadFile(w.cfg)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		w.t.Fatal(err)
	}
	return string(b)
}

// setProfile sets keys of a profile in the config file as another program would.
func (w *authWorld) setProfile(profile string, kv ...string) {
	w.t.Helper()
	var set []cliKV
	for i := 0; i+1 < len(kv); i += 2 {
		set = append(set, cliKV{kv[i], kv[i+1]})
	}
	if err := cliWriteProfile(w.cfg, profile, set, nil); err != nil {
		w.t.Fatal(err)
	}
}

// consent is what the browser driver saw.
type consent struct {
	mu           sync.Mutex
	page         string // the consent page
	code         string
	callbackCode int
	callbackPage string
	err          error
}

func (c *consent) fail(format string, args ...any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = fmt.Errorf(format, args...)
	return c.err
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// browserOpener is an opener that, instead of a browser, signs alice in with her token
// and answers the consent page with decision; tamper, when set, changes the callback
// URL before it is followed. It goes through the real pages: sign-in form, consent page
// and its CSRF-protected form, the redirect back to the CLI's port.
func (w *authWorld) browserOpener(c *consent, decision string, tamper func(*url.URL)) func(context.Context, string) error {
	return func(ctx context.Context, authURL string) error {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(u string) (*http.Response, string, error) {
			resp, err := hc.Get(u)
			if err != nil {
				return nil, "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp, string(b), err
		}
		_, page, err := get(w.ts.URL + "/login")
		if err != nil {
			return c.fail("sign-in page: %v", err)
		}
		m := csrfRE.FindStringSubmatch(page)
		if m == nil {
			return c.fail("no csrf on the sign-in page")
		}
		resp, err := hc.PostForm(w.ts.URL+"/login", url.Values{"token": {w.aliceToken}, "csrf": {m[1] + m[2]}, "next": {"/"}})
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			return c.fail("token sign-in: %v %v", resp, err)
		}
		resp.Body.Close()
		resp, page, err = get(authURL)
		if err != nil || resp.StatusCode != http.StatusOK {
			return c.fail("consent page: %v %v\n%s", resp, err, page)
		}
		c.mu.Lock()
		c.page = page
		c.mu.Unlock()
		form := url.Values{"decision": {decision}}
		for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
			form.Set(h[1], strings.ReplaceAll(h[2], "&amp;", "&"))
		}
		if form.Get("csrf") == "" || form.Get("state") == "" {
			return c.fail("consent form without csrf or state: %v", form)
		}
		resp, err = hc.PostForm(w.ts.URL+authserver.AuthorizePath, form)
		if err != nil {
			return c.fail("consent: %v", err)
		}
		resp.Body.Close()
		back, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || err != nil || back.Host == "" {
			return c.fail("consent answered %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		c.mu.Lock()
		c.code = back.Query().Get("code")
		c.mu.Unlock()
		w.secret("code", back.Query().Get("code"))
		if tamper != nil {
			tamper(back)
		}
		resp, page, err = get(back.String())
		if err != nil {
			return c.fail("callback: %v", err)
		}
		c.mu.Lock()
		c.callbackCode, c.callbackPage = resp.StatusCode, page
		c.mu.Unlock()
		return nil
	}
}

// login runs `auth login` through the browser driver and returns its stdout.
func (w *authWorld) login(args ...string) (string, *consent) {
	w.t.Helper()
	c := &consent{}
	out, errOut, err := w.run(w.browserOpener(c, "allow", nil), nil, append([]string{"auth", "login", "--host", w.ts.URL}, args...)...)
	if c.err != nil || err != nil {
		w.t.Fatalf("auth login: %v; browser: %v\n%s", err, c.err, errOut)
	}
	return out, c
}

// tokenStatus posts a refresh_token grant as the CLI and returns the status and error.
func (w *authWorld) tokenStatus(refresh string) (int, string) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.ts.URL+authserver.TokenPath, strings.NewReader(url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {refresh}, "client_id": {authserver.CLIClientID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	code, body := send(w.t, req)
	return code, string(body)
}

// refreshEvents counts alice's allowed refresh_token grants in the audit log. Records
// are written in order, after the answer: it first sends a refused token request of a
// client named for the call and waits for its record, so every earlier one is in.
func (w *authWorld) refreshEvents() int {
	w.t.Helper()
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	req, _ := http.NewRequest(http.MethodPost, w.ts.URL+authserver.TokenPath, strings.NewReader(url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {"no.such"}, "client_id": {marker}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	send(w.t, req)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var l auditList
		w.ts.must("GET", "/api/2.0/gatehouse/audit?action=tokenCreate", w.ts.Admin, nil, &l)
		n, seen := 0, false
		for _, e := range l.Events {
			seen = seen || e.RequestParams["client_id"] == marker
			if e.Principal == "alice@example.com" && e.Decision == "ALLOW" && e.RequestParams["grant_type"] == "refresh_token" {
				n++
			}
		}
		if seen {
			return n
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the audit record of %s did not appear", marker)
		}
	}
}

const authPast = "2020-01-01T00:00:00Z"

// TestCLIAuthLoginEndToEnd: `gatehouse auth login` against the real server, the
// browser played by an HTTP client with a token-signed-in session. The profile gets
// host, token, refresh token and expiry, the rest of the file is kept; the CLI works
// with it, renews an expired token quietly, two renewals at once spend the refresh token
// once, GATEHOUSE_TOKEN wins and is never refreshed, --profile leaves DEFAULT alone, and
// `auth logout` revokes at the server and clears the profile. No token, refresh token
// or code appears in the CLI's output, the server's log or the audit log.
func TestCLIAuthLoginEndToEnd(t *testing.T) { cliAuthEndToEnd(t, newAuthWorld(t, nil)) }

// TestCLIAuthLoginEndToEndPostgres is the same on the PostgreSQL store, which keeps
// the codes and refresh families there.
func TestCLIAuthLoginEndToEndPostgres(t *testing.T) {
	dsn := withPassword(t, pgtest.Shared(t).NewDatabase(t))
	w := newAuthWorld(t, map[string]string{"GATEHOUSE_MASTER_KEY": newMasterKey(t)}, "--store", dsn)
	if !strings.Contains(w.ts.Stdout.String(), "Store: postgres://") {
		t.Fatalf("not on the PostgreSQL store:\n%s", w.ts.Stdout.String())
	}
	cliAuthEndToEnd(t, w)
}

func cliAuthEndToEnd(t *testing.T, w *authWorld) {
	const start = "# my profiles\n[other]\nhost = https://other.example\ncolor = blue\n\n[DEFAULT]\n# the default\neditor = vim\n"
	if err := os.MkdirAll(filepath.Dir(w.cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.cfg, []byte(start), 0o600); err != nil {
		t.Fatal(err)
	}

	out, c := w.login()
	if !strings.Contains(out, "alice@example.com") || !strings.Contains(out, "expires at") {
		t.Errorf("login output %q does not say who signed in and until when", out)
	}
	for _, want := range []string{"Gatehouse CLI on this computer", "all your privileges", "alice@example.com"} {
		if !strings.Contains(c.page, want) {
			t.Errorf("consent page lacks %q:\n%s", want, c.page)
		}
	}
	if c.callbackCode != http.StatusOK || !strings.Contains(c.callbackPage, "close this tab") || strings.Contains(c.callbackPage, c.code) {
		t.Errorf("callback page %d:\n%s", c.callbackCode, c.callbackPage)
	}
	p := w.profiles()
	def := p["DEFAULT"]
	exp, err := time.Parse(time.RFC3339, def[cliKeyTokenExpires])
	if def[cliKeyHost] != w.ts.URL || def[cliKeyToken] == "" || def[cliKeyRefreshToken] == "" || err != nil ||
		exp.Before(time.Now().Add(authserver.AccessTTL-time.Minute)) || exp.After(time.Now().Add(authserver.AccessTTL+time.Minute)) || def["editor"] != "vim" {
		t.Fatalf("DEFAULT after login: %v", def)
	}
	if other := p["other"]; other["host"] != "https://other.example" || other["color"] != "blue" || len(other) != 2 {
		t.Errorf("[other] after login: %v", other)
	}
	file := w.file()
	if !strings.HasPrefix(file, "# my profiles\n[other]\nhost = https://other.example\ncolor = blue\n\n[DEFAULT]\n# the default\neditor = vim\n") {
		t.Errorf("the file's other lines changed:\n%s", file)
	}
	if fi, err := os.Stat(w.cfg); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config file mode %v, %v; want 0600", fi.Mode(), err)
	}

	// The profile serves the commands, as alice.
	if out, _, err := w.run(nil, nil, "connections", "list", "-o", "json"); err != nil || !strings.Contains(out, `"weather"`) {
		t.Fatalf("connections list with the profile: %v\n%s", err, out)
	}
	if status, _ := w.ts.do("GET", "/api/2.0/preview/scim/v2/Me", def[cliKeyToken], nil); status != http.StatusOK {
		t.Fatalf("the login's token at the API: %d", status)
	}

	t.Run("expired token renews quietly", func(t *testing.T) {
		before := w.profiles()["DEFAULT"]
		w.setProfile("DEFAULT", cliKeyTokenExpires, authPast)
		out, errOut, err := w.run(nil, nil, "whoami")
		if err != nil || !strings.Contains(out, "alice@example.com") || errOut != "" {
			t.Fatalf("whoami with an expired token: %v\n%s%s", err, out, errOut)
		}
		after := w.profiles()["DEFAULT"]
		if after[cliKeyToken] == before[cliKeyToken] || after[cliKeyRefreshToken] == before[cliKeyRefreshToken] || after[cliKeyTokenExpires] == authPast || after["editor"] != "vim" {
			t.Fatalf("profile after renewal: %v", after)
		}
		if status, _ := w.ts.do("GET", "/api/2.0/preview/scim/v2/Me", before[cliKeyToken], nil); status != http.StatusUnauthorized {
			t.Errorf("the replaced token still works: %d", status)
		}
		// Not due: no refresh.
		if _, _, err := w.run(nil, nil, "whoami"); err != nil || w.profiles()["DEFAULT"][cliKeyRefreshToken] != after[cliKeyRefreshToken] {
			t.Errorf("a token not due was renewed (%v)", err)
		}
	})

	t.Run("two renewals at once spend the refresh token once", func(t *testing.T) {
		before := w.refreshEvents()
		w.setProfile("DEFAULT", cliKeyTokenExpires, authPast)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Go(func() {
				out, errOut, err := w.run(nil, nil, "whoami")
				if err == nil && !strings.Contains(out, "alice@example.com") {
					err = fmt.Errorf("whoami printed %q %q", out, errOut)
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent renewals: %v", err)
		}
		if n := w.refreshEvents() - before; n != 1 {
			t.Errorf("%d refreshes for two concurrent commands, want 1", n)
		}
		// The family survives: the refresh token in the profile still renews.
		w.setProfile("DEFAULT", cliKeyTokenExpires, authPast)
		if _, errOut, err := w.run(nil, nil, "whoami"); err != nil {
			t.Fatalf("renewal after the concurrent ones: %v %s", err, errOut)
		}
	})

	t.Run("a renewal waits for the lock and uses what its holder got", func(t *testing.T) {
		w.setProfile("DEFAULT", cliKeyTokenExpires, authPast)
		unlock, err := cliLockConfig(w.cfg)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			out, errOut, err := w.run(nil, nil, "whoami")
			if err == nil && !strings.Contains(out, "alice@example.com") {
				err = fmt.Errorf("whoami printed %q %q", out, errOut)
			}
			done <- err
		}()
		// As another process holding the lock: renew, and write the profile.
		p := w.profiles()["DEFAULT"]
		tok, expires, err := cliToken(context.Background(), w.ts.URL, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {p[cliKeyRefreshToken]}, "client_id": {authserver.CLIClientID}}, time.Now())
		if err != nil {
			unlock()
			t.Fatalf("renewal under the lock: %v", err)
		}
		w.setProfile("DEFAULT", cliKeyToken, tok.AccessToken, cliKeyRefreshToken, tok.RefreshToken, cliKeyTokenExpires, expires.Format(time.RFC3339))
		unlock()
		if err := <-done; err != nil {
			t.Fatalf("the waiting command: %v", err)
		}
		if got := w.profiles()["DEFAULT"]; got[cliKeyToken] != tok.AccessToken || got[cliKeyRefreshToken] != tok.RefreshToken {
			t.Errorf("the waiting command renewed again: %v", got)
		}
	})

	t.Run("GATEHOUSE_TOKEN wins and is never refreshed", func(t *testing.T) {
		w.setProfile("DEFAULT", cliKeyTokenExpires, authPast)
		file := w.file()
		out, _, err := w.run(nil, map[string]string{"GATEHOUSE_TOKEN": w.ts.Admin}, "whoami")
		if err != nil || !strings.Contains(out, "admin") || strings.Contains(out, "alice") {
			t.Fatalf("whoami with GATEHOUSE_TOKEN: %v %s", err, out)
		}
		if w.file() != file {
			t.Error("the profile was rewritten while GATEHOUSE_TOKEN was set")
		}
	})

	t.Run("--profile other leaves DEFAULT untouched", func(t *testing.T) {
		def := w.profiles()["DEFAULT"]
		w.login("--profile", "other")
		p := w.profiles()
		if !maps.Equal(p["DEFAULT"], def) {
			t.Errorf("DEFAULT changed by a login to other: %v, was %v", p["DEFAULT"], def)
		}
		o := p["other"]
		if o[cliKeyHost] != w.ts.URL || o[cliKeyToken] == "" || o[cliKeyToken] == def[cliKeyToken] || o["color"] != "blue" {
			t.Errorf("[other] after its login: %v", o)
		}
		if out, _, err := w.run(nil, nil, "--profile", "other", "whoami"); err != nil || !strings.Contains(out, "alice") {
			t.Errorf("whoami --profile other: %v %s", err, out)
		}
	})

	t.Run("a refused refresh says the session ended", func(t *testing.T) {
		w.setProfile("ended", cliKeyHost, w.ts.URL, cliKeyToken, "gone-token", cliKeyRefreshToken, "nofamily.nosecret", cliKeyTokenExpires, authPast)
		_, _, err := w.run(nil, nil, "--profile", "ended", "whoami")
		if err == nil || !strings.Contains(err.Error(), "session ended: run gatehouse auth login --profile ended") {
			t.Fatalf("refused refresh: %v", err)
		}
	})

	t.Run("logout revokes and clears the profile", func(t *testing.T) {
		def := w.profiles()["DEFAULT"]
		out, errOut, err := w.run(nil, nil, "auth", "logout")
		if err != nil || !strings.Contains(out, "Signed out") || errOut != "" {
			t.Fatalf("logout: %v\n%s%s", err, out, errOut)
		}
		after := w.profiles()["DEFAULT"]
		if after[cliKeyHost] != w.ts.URL || after["editor"] != "vim" || len(after) != 2 {
			t.Errorf("DEFAULT after logout: %v, want only host and editor", after)
		}
		if code, body := w.tokenStatus(def[cliKeyRefreshToken]); code != http.StatusBadRequest || !strings.Contains(body, "invalid_grant") {
			t.Errorf("the logged-out refresh token at the token endpoint: %d %s", code, body)
		}
		if _, _, err := w.run(nil, nil, "whoami"); err == nil || !strings.Contains(err.Error(), "no token") {
			t.Errorf("whoami after logout: %v", err)
		}
		if p := w.profiles()["other"]; p[cliKeyToken] == "" {
			t.Errorf("logout of DEFAULT cleared other: %v", p)
		}
	})

	t.Run("logout without a server clears the profile and says so", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + ln.Addr().String()
		ln.Close()
		w.setProfile("dead", cliKeyHost, dead, cliKeyToken, "t-dead", cliKeyRefreshToken, "f.s", cliKeyTokenExpires, authPast)
		out, errOut, err := w.run(nil, nil, "auth", "logout", "--profile", "dead")
		if err != nil || !strings.Contains(errOut, "the server was not told") || !strings.Contains(out, "Signed out") {
			t.Fatalf("logout without a server: %v\n%s%s", err, out, errOut)
		}
		if p := w.profiles()["dead"]; len(p) != 1 || p[cliKeyHost] != dead {
			t.Errorf("dead after logout: %v", p)
		}
	})

	// The canary scan: no secret the test saw in the CLI's output, the server's log or
	// the audit log.
	_, audit := w.ts.do("GET", "/api/2.0/gatehouse/audit", w.ts.Admin, nil)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.secrets) < 6 {
		t.Fatalf("only %d secrets seen; the scan would prove little", len(w.secrets))
	}
	for name, s := range w.secrets {
		for where, text := range map[string]string{"CLI output": w.output.String(), "server log": w.ts.Stdout.String() + w.ts.Stderr.String(), "audit log": string(audit)} {
			if strings.Contains(text, s) {
				t.Errorf("the %s holds the %s", where, name)
			}
		}
	}
}

// TestCLIAuthLoginRefusals: a callback with the wrong state, a denial in the browser,
// and an answer that never comes each end the login with nothing written; the server
// refuses the CLI client a resource and a redirect URI off the loopback literals.
func TestCLIAuthLoginRefusals(t *testing.T) {
	w := newAuthWorld(t, nil)
	t.Run("logout of no profile", func(t *testing.T) {
		if out, _, err := w.run(nil, nil, "auth", "logout"); err != nil || !strings.Contains(out, "not signed in") {
			t.Errorf("logout without a profile: %v %q", err, out)
		}
		if _, _, err := w.run(nil, nil, "auth", "logout", "--profile", "typo"); err == nil || !strings.Contains(err.Error(), `profile "typo" not found`) {
			t.Errorf("logout of a named profile that is not there: %v", err)
		}
	})
	cases := []struct {
		name     string
		decision string
		tamper   func(*url.URL)
		want     string
	}{
		{"wrong state", "allow", func(u *url.URL) {
			q := u.Query()
			q.Set("state", strings.Repeat("A", 43))
			u.RawQuery = q.Encode()
		}, "state does not match"},
		{"no state", "allow", func(u *url.URL) {
			q := u.Query()
			q.Del("state")
			u.RawQuery = q.Encode()
		}, "state does not match"},
		{"denied", "deny", nil, "denied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &consent{}
			_, _, err := w.run(w.browserOpener(c, tc.decision, tc.tamper), nil, "auth", "login", "--host", w.ts.URL)
			if c.err != nil {
				t.Fatalf("browser: %v", c.err)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("login = %v, want an error saying %q", err, tc.want)
			}
			if c.callbackCode != http.StatusBadRequest || strings.Contains(c.callbackPage, "Signed in") {
				t.Errorf("callback page %d:\n%s", c.callbackCode, c.callbackPage)
			}
			if f := w.file(); f != "" {
				t.Errorf("the config file was written:\n%s", f)
			}
		})
	}

	t.Run("a rebound name neither answers nor ends the wait", func(t *testing.T) {
		c := &consent{}
		var rebound atomic.Int64
		probe := func(back *url.URL) {
			req, _ := http.NewRequest(http.MethodGet, back.String(), nil)
			req.Host = "rebound.example:" + back.Port()
			if resp, err := http.DefaultClient.Do(req); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if !strings.Contains(string(b), "Signed in") {
					rebound.Store(int64(resp.StatusCode))
				}
			}
		}
		_, errOut, err := w.run(w.browserOpener(c, "allow", probe), nil, "auth", "login", "--host", w.ts.URL, "--profile", "rb")
		if err != nil || c.err != nil {
			t.Fatalf("login after a rebound request: %v %v\n%s", err, c.err, errOut)
		}
		if rebound.Load() != http.StatusBadRequest || c.callbackCode != http.StatusOK || w.profiles()["rb"][cliKeyToken] == "" {
			t.Errorf("rebound request %d, callback %d, profile %v", rebound.Load(), c.callbackCode, w.profiles()["rb"])
		}
	})

	t.Run("--no-browser prints the URL", func(t *testing.T) {
		c := &consent{}
		driver := w.browserOpener(c, "allow", nil)
		urls := &urlWatcher{found: make(chan string, 1)}
		done := make(chan error, 1)
		go func() {
			select {
			case u := <-urls.found:
				done <- driver(context.Background(), u)
			case <-time.After(time.Minute):
				done <- errors.New("no URL printed")
			}
		}()
		var opened atomic.Bool
		out, errOut, err := w.runTo(func(context.Context, string) error { opened.Store(true); return nil }, nil, urls,
			"auth", "login", "--host", w.ts.URL, "--profile", "nb", "--no-browser")
		if derr := <-done; err != nil || derr != nil || c.err != nil {
			t.Fatalf("login --no-browser: %v; driver %v %v\n%s", err, derr, c.err, errOut)
		}
		if opened.Load() {
			t.Error("--no-browser opened a browser")
		}
		if !strings.Contains(out, "alice@example.com") || w.profiles()["nb"][cliKeyToken] == "" {
			t.Errorf("after login --no-browser: %s %v", out, w.profiles()["nb"])
		}
	})

	t.Run("server refuses", func(t *testing.T) {
		b := newBrowser(nil)
		b.signIn(t, w.ts.URL, w.aliceToken)
		base := url.Values{"response_type": {"code"}, "client_id": {authserver.CLIClientID}, "redirect_uri": {"http://127.0.0.1:9/callback"},
			"state": {"st"}, "code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}}
		with := func(k, v string) string {
			q := url.Values{}
			for kk, vv := range base {
				q[kk] = vv
			}
			q.Set(k, v)
			return w.ts.URL + authserver.AuthorizePath + "?" + q.Encode()
		}
		resp, _ := b.get(t, with("resource", w.ts.URL+"/api/2.0/mcp/external/weather"))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("error") != "invalid_target" {
			t.Errorf("CLI client with a resource: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		for _, redirect := range []string{"https://evil.example/callback", "http://localhost:9/callback", "http://192.0.2.1:9/callback"} {
			resp, page := b.get(t, with("redirect_uri", redirect))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(page, "127.0.0.1") {
				t.Errorf("CLI client redirecting to %s: %d %q", redirect, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
	})
}

// urlWatcher is the CLI's stderr as the test reads it: it hands on the first sign-in URL.
type urlWatcher struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	sent  bool
	found chan string
}

var authURLRE = regexp.MustCompile(`http://\S+/oidc/v1/authorize\?\S+`)

func (u *urlWatcher) Write(p []byte) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.buf.Write(p)
	if m := authURLRE.FindString(u.buf.String()); m != "" && !u.sent {
		u.sent = true
		u.found <- m
	}
	return len(p), nil
}
