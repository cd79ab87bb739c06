package main

// `gatehouse auth login` and `gatehouse auth logout` (issue 12): the CLI signs in
// through the browser as a native app (RFC 8252). It listens on a loopback port, sends
// the browser to Gatehouse's authorization endpoint with state and a PKCE challenge as
// the built-in client authserver.CLIClientID, takes the one callback, redeems the code,
// and keeps the short-lived token and its refresh token in the profile, which renews
// itself before a command when the token is about to expire. Neither the token, the
// refresh token nor the code is ever printed.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/internal/authserver"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

const (
	// cliLoginTimeout bounds the wait for the browser's callback.
	cliLoginTimeout = 5 * time.Minute
	// cliRenewBefore is how long before its expiry a profile's token is renewed.
	cliRenewBefore = 60 * time.Second
	// cliCallbackPath is the path of the loopback redirect URI.
	cliCallbackPath = "/callback"
	// cliMaxCallbackQuery bounds the callback's query string.
	cliMaxCallbackQuery = 8 << 10
	// cliMaxTokenAnswer bounds a token or revocation endpoint's answer.
	cliMaxTokenAnswer = 64 << 10
)

// Profile keys that `auth login` writes and `auth logout` removes.
const (
	cliKeyHost         = "host"
	cliKeyToken        = "token"
	cliKeyRefreshToken = "refresh_token"
	cliKeyTokenExpires = "token_expires"
)

// cliHooks are what tests replace of the sign-in: the browser opener and the clock.
// They ride on the command's context so that run keeps the signature main and every
// test use; without them the system's opener and time.Now serve.
type cliHooks struct {
	open func(ctx context.Context, url string) error
	now  func() time.Time
}

type cliHooksKey struct{}

// withCLIHooks returns ctx carrying h for the commands run under it.
func withCLIHooks(ctx context.Context, h cliHooks) context.Context {
	return context.WithValue(ctx, cliHooksKey{}, h)
}

func (c *clientCLI) ctx() context.Context {
	if c.root != nil && c.root.Context() != nil {
		return c.root.Context()
	}
	return context.Background()
}

func (c *clientCLI) hooks() cliHooks {
	h, _ := c.ctx().Value(cliHooksKey{}).(cliHooks)
	if h.open == nil {
		h.open = cliSystemOpen
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// cliSystemOpen opens u in the desktop's browser. The URL is one argument of the
// program, never through a shell.
func cliSystemOpen(_ context.Context, u string) error {
	name, args := "xdg-open", []string(nil)
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	}
	return exec.Command(name, append(args, u)...).Run()
}

func (c *clientCLI) authCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Sign the CLI in through the browser, or out",
		Long: `Sign the CLI in to Gatehouse as yourself, through the browser, instead of pasting a
token: "gatehouse auth login" keeps a short-lived token (an hour) and its refresh token
in the profile, and every later command renews the token quietly when it is about to
expire. "gatehouse auth logout" ends the session at the server and removes both.`,
	}
	cmd.AddCommand(c.authLogin(), c.authLogout())
	return cmd
}

func (c *clientCLI) authLogin() *cobra.Command {
	var noBrowser bool
	cmd := &cobra.Command{
		Use:   "login [--host URL] [--profile NAME] [--no-browser]",
		Short: "Sign the CLI in through the browser and keep the session in the profile",
		Long: `Sign the CLI in through the browser. The CLI listens on a port of 127.0.0.1, opens
{host}/oidc/v1/authorize in the browser (or prints the URL, with --no-browser or when no
browser opens), where you sign in to Gatehouse and allow the Gatehouse CLI to act as you.
The browser comes back to the CLI's port; the CLI checks the answer, redeems it for a
token of an hour and a refresh token, and writes host, token, refresh_token and
token_expires to the profile (--profile, else DEFAULT) of the config file, keeping its
other profiles, keys and comments. It waits at most 5 minutes; Ctrl-C ends the wait.

The browser must run on this computer: the answer goes to 127.0.0.1. GATEHOUSE_TOKEN,
when set, still wins over the profile.`,
		Example: `  gatehouse auth login --host https://gatehouse.example.com
  gatehouse auth login --profile prod --host https://gatehouse.example.com --no-browser`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.login(cmd.Context(), noBrowser)
		},
	}
	cmd.Flags().BoolVar(&noBrowser, "no-browser", false, "print the sign-in URL instead of opening a browser")
	return cmd
}

func (c *clientCLI) authLogout() *cobra.Command {
	return &cobra.Command{
		Use:   "logout [--profile NAME]",
		Short: "End the CLI's session at the server and remove its tokens from the profile",
		Long: `Revoke the profile's session at the server (RFC 7009, POST /oidc/v1/revoke with its
refresh token) and remove token, refresh_token and token_expires from the profile; its
host stays. When the server cannot be reached the profile is cleared all the same, and
the CLI says that the server was not told.`,
		Example: "  gatehouse auth logout\n  gatehouse auth logout --profile prod",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.logout(cmd.Context())
		},
	}
}

// ---- the config file ----

// configRef names the profile and the config file: --profile, GATEHOUSE_PROFILE or
// DEFAULT (explicit tells whether one was named), and GATEHOUSE_CONFIG_FILE or
// $HOME/.gatehouse/config ("" when neither is known).
func (c *clientCLI) configRef() (profile string, explicit bool, path string) {
	profile, explicit = c.profile, true
	if profile == "" {
		profile = c.getenv("GATEHOUSE_PROFILE")
	}
	if profile == "" {
		profile, explicit = cliDefaultProfile, false
	}
	path = c.getenv("GATEHOUSE_CONFIG_FILE")
	if path == "" {
		if home := c.getenv("HOME"); home != "" {
			path = filepath.Join(home, ".gatehouse", "config")
		}
	}
	return profile, explicit, path
}

// profileFlag is the --profile flag that names profile again in advice, "" for DEFAULT.
func profileFlag(profile string) string {
	if profile == cliDefaultProfile {
		return ""
	}
	return " --profile " + profile
}

// cliReadProfiles reads the config file's profiles, without the permission warning
// (the commands read it once through readConfigFile first); a missing file has none.
func cliReadProfiles(path string) (map[string]map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	defer f.Close()
	sections, err := cliParseConfig(io.LimitReader(f, cliMaxSecretFile))
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return sections, nil
}

// cliKV is one key to set in a profile.
type cliKV struct{ key, value string }

// cliWriteProfile sets and deletes keys of one profile in the config file at path and
// leaves everything else as it was: other profiles, other keys, comments, blank lines.
// The new file is written beside the old one and renamed over it (0600; a missing
// parent folder is made 0700), so a reader sees the old file or the new, never half.
// A symbolic link is followed: its target is rewritten. The caller holds cliLockConfig.
func cliWriteProfile(path, profile string, set []cliKV, del []string) error {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write config file: %w", err)
	}
	if len(old) > cliMaxSecretFile {
		return fmt.Errorf("write config file: %s is larger than %d bytes", path, cliMaxSecretFile)
	}
	out, err := cliRewriteConfig(old, profile, set, del)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write config file: %w", err)
	}
	_, err = tmp.Write(out)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write config file: %w", err)
	}
	return nil
}

// cliRewriteConfig returns the config file src with the keys of set given their values
// in profile and the keys of del removed from it, every other line as it was. A key is
// changed where it stands (in every [profile] block that has it: the parser lets the
// last one win); a new key goes after the last key line of the profile's last block; a
// missing profile is added at the end. Values must be one line.
func cliRewriteConfig(src []byte, profile string, set []cliKV, del []string) ([]byte, error) {
	if _, err := cliParseConfig(bytes.NewReader(src)); err != nil {
		return nil, err
	}
	if profile == "" || strings.ContainsAny(profile, "[]\r\n") || strings.TrimSpace(profile) != profile {
		return nil, fmt.Errorf("profile name %q cannot be written", profile)
	}
	for _, kv := range set {
		if strings.ContainsAny(kv.value, "\r\n") || strings.TrimSpace(kv.value) != kv.value {
			return nil, fmt.Errorf("the value of %s is not one line", kv.key)
		}
	}
	text := string(src)
	nl := "\n"
	if strings.Contains(text, "\r\n") {
		nl = "\r\n"
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	deleted := map[string]bool{}
	for _, k := range del {
		deleted[k] = true
	}
	done := map[string]bool{}
	value := map[string]string{}
	for _, kv := range set {
		value[kv.key] = kv.value
	}
	var out []string
	in, insertAt := false, -1
	for i, line := range lines {
		body := strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(body)
		if i == 0 {
			trimmed = strings.TrimPrefix(trimmed, "\ufeff")
		}
		switch {
		case trimmed == "" || trimmed[0] == '#' || trimmed[0] == ';':
		case trimmed[0] == '[':
			in = strings.TrimSpace(trimmed[1:len(trimmed)-1]) == profile
			if in {
				insertAt = len(out) + 1
			}
		default:
			if !in {
				break
			}
			k, _, _ := strings.Cut(trimmed, "=")
			k = strings.ToLower(strings.TrimSpace(k))
			if deleted[k] {
				continue
			}
			if v, ok := value[k]; ok {
				lead, _, _ := strings.Cut(body, "=")
				line = strings.TrimRight(lead, " \t") + " = " + v + line[len(body):]
				done[k] = true
			}
			insertAt = len(out) + 1
		}
		out = append(out, line)
	}
	var add []string
	for _, kv := range set {
		if !done[kv.key] {
			add = append(add, kv.key+" = "+kv.value+nl)
			done[kv.key] = true
		}
	}
	if insertAt < 0 {
		if len(add) == 0 {
			return []byte(strings.Join(out, "")), nil
		}
		if n := len(out); n > 0 && !strings.HasSuffix(out[n-1], "\n") {
			out[n-1] += nl
		}
		if len(out) > 0 {
			out = append(out, nl)
		}
		out = append(out, "["+profile+"]"+nl)
		out = append(out, add...)
		return []byte(strings.Join(out, "")), nil
	}
	if insertAt > 0 && insertAt <= len(out) && !strings.HasSuffix(out[insertAt-1], "\n") && len(add) > 0 {
		out[insertAt-1] += nl
	}
	out = append(out[:insertAt], append(add, out[insertAt:]...)...)
	return []byte(strings.Join(out, "")), nil
}

// ---- the token endpoint ----

// cliTokenAnswer is a token endpoint's answer (RFC 6749 §5.1).
type cliTokenAnswer struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// cliOAuthError is an OAuth error answer (RFC 6749 §4.1.2.1, §5.2), from the token
// endpoint or the callback. Its words are the server's: shown cleaned, cut short.
type cliOAuthError struct {
	Code, Description string
}

func (e *cliOAuthError) Error() string {
	s := cliCell(truncateCLI(e.Code, 64))
	if e.Description != "" {
		s += ": " + cliCell(truncateCLI(e.Description, 300))
	}
	return s
}

func truncateCLI(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// cliTokenValueOK reports whether a token from the server can be kept in the config
// file: printable ASCII without spaces, so that it cannot add a line or a profile.
func cliTokenValueOK(s string) bool {
	if s == "" || len(s) > 4096 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// cliHTTPClient talks to the Gatehouse server's OAuth endpoints: bounded in time, and
// never following a redirect, which would carry a code or refresh token elsewhere.
func cliHTTPClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func cliPostForm(ctx context.Context, endpoint string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := cliHTTPClient().Do(req)
	if err != nil {
		// The form is in the body, never in an error's URL.
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, cliMaxTokenAnswer+1))
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > cliMaxTokenAnswer {
		return 0, nil, fmt.Errorf("the answer is larger than %d bytes", cliMaxTokenAnswer)
	}
	return resp.StatusCode, body, nil
}

// cliToken posts a token request to host's token endpoint and returns the tokens and
// when the access token expires. A refusal is a *cliOAuthError.
func cliToken(ctx context.Context, host string, form url.Values, now time.Time) (*cliTokenAnswer, time.Time, error) {
	status, body, err := cliPostForm(ctx, host+authserver.TokenPath, form)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("token endpoint: %w", err)
	}
	if status != http.StatusOK {
		var e cliOAuthError
		var raw struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &raw) != nil || raw.Error == "" {
			return nil, time.Time{}, fmt.Errorf("token endpoint answered HTTP %d", status)
		}
		e.Code, e.Description = raw.Error, raw.Description
		return nil, time.Time{}, &e
	}
	var a cliTokenAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, time.Time{}, errors.New("token endpoint: the answer is not a token")
	}
	if !strings.EqualFold(a.TokenType, "bearer") || !cliTokenValueOK(a.AccessToken) || a.ExpiresIn <= 0 ||
		(a.RefreshToken != "" && !cliTokenValueOK(a.RefreshToken)) {
		return nil, time.Time{}, errors.New("token endpoint: the answer is not a bearer token with an expiry")
	}
	return &a, now.Add(time.Duration(a.ExpiresIn) * time.Second).UTC().Truncate(time.Second), nil
}

// ---- login ----

// cliRandom returns 32 random bytes, base64url: a state (256 bits) or a PKCE verifier
// (43 characters).
func cliRandom() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

var errCallbackState = errors.New("the browser's answer is not for this sign-in (state does not match): nothing was signed in")

// cliParseCallback reads the query of the loopback callback: each parameter at most
// once, the state equal to want (compared in constant time), then either an OAuth
// error or a code. Errors never quote the code.
func cliParseCallback(rawQuery, want string) (string, error) {
	if len(rawQuery) > cliMaxCallbackQuery {
		return "", errors.New("the browser's answer is too long")
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", errors.New("the browser's answer is not a valid query")
	}
	for _, v := range q {
		if len(v) > 1 {
			return "", errors.New("the browser's answer repeats a parameter")
		}
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(want)) != 1 {
		return "", errCallbackState
	}
	if e := q.Get("error"); e != "" {
		return "", &cliOAuthError{Code: e, Description: q.Get("error_description")}
	}
	code := q.Get("code")
	if !cliTokenValueOK(code) || len(code) > 2048 {
		return "", errors.New("the browser's answer has no valid code")
	}
	return code, nil
}

// cliCallbackPage is what the browser shows after its answer reached the CLI.
var cliCallbackPage = template.Must(template.New("callback").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gatehouse CLI</title></head>
<body><h1 id="result">{{.Heading}}</h1><p id="message">{{.Message}}</p></body></html>
`))

// cliWritePage answers the browser; the page loads nothing and, whatever it says, never
// holds the code.
func cliWritePage(w http.ResponseWriter, status int, heading, message string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = cliCallbackPage.Execute(w, struct{ Heading, Message string }{heading, message})
}

// cliCallback is what the callback handler hands the waiting login: the code or why not.
type cliCallback struct {
	code string
	err  error
}

// cliLoginHost is the server to sign in to: --host, GATEHOUSE_HOST, else the profile's.
func (c *clientCLI) cliLoginHost(path, profile string) (string, error) {
	host := c.host
	if host == "" {
		host = c.getenv("GATEHOUSE_HOST")
	}
	if host == "" && path != "" {
		sections, err := c.readConfigFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		host = sections[profile][cliKeyHost]
	}
	if host == "" {
		return "", fmt.Errorf("no Gatehouse host: pass --host, set GATEHOUSE_HOST, or set host in profile [%s] of %s", profile, path)
	}
	return cliNormalizeHost(host)
}

func (c *clientCLI) login(ctx context.Context, noBrowser bool) error {
	if c.output != "table" && c.output != "json" {
		return fmt.Errorf("--output %q: want table or json", c.output)
	}
	profile, _, path := c.configRef()
	if path == "" {
		return errors.New("no config file to keep the sign-in: HOME is not set; set GATEHOUSE_CONFIG_FILE")
	}
	host, err := c.cliLoginHost(path, profile)
	if err != nil {
		return err
	}
	if u, _ := url.Parse(host); u.Scheme == "http" && !cliIsLoopback(u.Hostname()) {
		c.warnf("signing in over plain http to %s; use https outside a local machine", u.Host)
	}
	hooks := c.hooks()
	state, err := cliRandom()
	if err != nil {
		return err
	}
	verifier, err := cliRandom()
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(verifier))

	// 127.0.0.1, never "localhost" (RFC 8252 §8.3): the name may resolve elsewhere.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the browser's answer: %w", err)
	}
	redirectURI := "http://" + ln.Addr().String() + cliCallbackPath
	q := url.Values{"response_type": {"code"}, "client_id": {authserver.CLIClientID}, "redirect_uri": {redirectURI},
		"state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	authURL := host + authserver.AuthorizePath + "?" + q.Encode()

	callbacks := make(chan cliCallback, 1)
	answers := make(chan [2]string, 1) // the page's heading and message, once the login is over
	over := make(chan struct{})        // closed when the login returns: no handler waits past it
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+cliCallbackPath, func(w http.ResponseWriter, r *http.Request) {
		// The browser comes back to the address it was given. Another Host is a page
		// that reached the port through a name rebound to 127.0.0.1: it gets nothing,
		// and cannot end the wait either.
		if r.Host != ln.Addr().String() {
			cliWritePage(w, http.StatusBadRequest, "Wrong address", "This port answers the Gatehouse CLI's sign-in only.")
			return
		}
		first := false
		once.Do(func() { first = true })
		if !first {
			cliWritePage(w, http.StatusConflict, "Already answered", "This sign-in has had its answer; return to the terminal.")
			return
		}
		code, err := cliParseCallback(r.URL.RawQuery, state)
		callbacks <- cliCallback{code: code, err: err}
		if err != nil {
			cliWritePage(w, http.StatusBadRequest, "Sign-in failed", err.Error())
			return
		}
		answer := func(a [2]string) {
			status := http.StatusOK
			if a[0] != "Signed in" {
				status = http.StatusBadGateway
			}
			cliWritePage(w, status, a[0], a[1])
		}
		select {
		case a := <-answers:
			answer(a)
		case <-over:
			select { // the answer may have come just before the end
			case a := <-answers:
				answer(a)
			default:
				answer([2]string{"Sign-in failed", "The CLI stopped before it finished; return to the terminal."})
			}
		case <-r.Context().Done():
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	defer close(over) // before the Shutdown above, which waits for the handler

	opened := make(chan error, 1)
	if noBrowser {
		fmt.Fprintf(c.e.stderr, "Open this URL in a browser on this computer to sign in:\n\n  %s\n\nWaiting for the browser (at most %s; Ctrl-C to stop)...\n", authURL, cliLoginTimeout)
	} else {
		fmt.Fprintf(c.e.stderr, "Opening the browser to sign in. If it does not open, visit this URL on this computer:\n\n  %s\n\nWaiting for the browser (at most %s; Ctrl-C to stop)...\n", authURL, cliLoginTimeout)
		go func() { opened <- hooks.open(ctx, authURL) }()
	}
	timer := time.NewTimer(cliLoginTimeout)
	defer timer.Stop()
	var cb cliCallback
wait:
	for {
		select {
		case cb = <-callbacks:
			break wait
		case err := <-opened:
			if err != nil {
				fmt.Fprintf(c.e.stderr, "gatehouse: could not open a browser (%v); open the URL above yourself.\n", err)
			}
		case <-timer.C:
			return fmt.Errorf("sign-in: no answer from the browser within %s; run gatehouse auth login%s again", cliLoginTimeout, profileFlag(profile))
		case <-ctx.Done():
			return fmt.Errorf("sign-in stopped: %w", ctx.Err())
		}
	}
	fail := func(err error) error {
		answers <- [2]string{"Sign-in failed", err.Error() + ". Return to the terminal."}
		return fmt.Errorf("sign-in: %w", err)
	}
	if cb.err != nil {
		var oe *cliOAuthError
		if errors.As(cb.err, &oe) && oe.Code == "access_denied" {
			return errors.New("sign-in: the request was denied in the browser")
		}
		return fmt.Errorf("sign-in: %w", cb.err)
	}
	now := hooks.now()
	tok, expires, err := cliToken(ctx, host, url.Values{"grant_type": {authserver.GrantAuthorizationCode}, "code": {cb.code},
		"client_id": {authserver.CLIClientID}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}, now)
	if err != nil {
		return fail(err)
	}
	// Kept before it is used: the refresh token is the session.
	set := []cliKV{{cliKeyHost, host}, {cliKeyToken, tok.AccessToken}}
	var del []string
	if tok.RefreshToken != "" {
		set = append(set, cliKV{cliKeyRefreshToken, tok.RefreshToken})
	} else {
		del = []string{cliKeyRefreshToken}
	}
	set = append(set, cliKV{cliKeyTokenExpires, expires.Format(time.RFC3339)})
	unlock, err := cliLockConfig(path)
	if err != nil {
		return fail(err)
	}
	err = cliWriteProfile(path, profile, set, del)
	unlock()
	if err != nil {
		return fail(err)
	}
	who := "(unknown: the server did not say)"
	if me, err := httpapi.NewClient(host, tok.AccessToken, nil).Me(ctx); err != nil {
		c.warnf("signed in, but could not read who: %v", err)
	} else if who = me.UserName; who == "" {
		who = me.ApplicationID
	}
	answers <- [2]string{"Signed in", "The Gatehouse CLI is signed in as " + who + ". You can close this tab."}
	if c.getenv("GATEHOUSE_TOKEN") != "" {
		c.warnf("GATEHOUSE_TOKEN is set and wins over the profile: unset it to use this sign-in")
	}
	if c.output == "json" {
		return c.printJSON(map[string]string{"profile": profile, "host": host, "user": who, "token_expires": expires.Format(time.RFC3339)})
	}
	return c.done("Signed in to %s as %s (profile %s, %s). The token expires at %s and renews itself; gatehouse auth logout%s signs out.",
		host, cliCell(who), profile, path, expires.Format(time.RFC3339), profileFlag(profile))
}

// ---- quiet renewal ----

// cliRenewDue reports whether the profile's token must be renewed before use: it has a
// refresh token, and its expiry is past, within cliRenewBefore, or unknown.
func cliRenewDue(p map[string]string, now time.Time) bool {
	if p[cliKeyRefreshToken] == "" {
		return false
	}
	exp, err := time.Parse(time.RFC3339, p[cliKeyTokenExpires])
	return err != nil || !now.Add(cliRenewBefore).Before(exp)
}

// renewProfileToken returns the token of profile p (read from path) to use now,
// renewed first when it is due. The renewal holds the config file's lock and reads the
// profile again inside it: when another process renewed it meanwhile, its token is
// used and the refresh token, already spent, is not sent again. The new tokens are
// written before the new token is used. The refresh goes to the profile's own host,
// the server that issued the refresh token, whatever --host says.
func (c *clientCLI) renewProfileToken(path, profile string, p map[string]string) (string, error) {
	hooks := c.hooks()
	if !cliRenewDue(p, hooks.now()) {
		return p[cliKeyToken], nil
	}
	unlock, err := cliLockConfig(path)
	if err != nil {
		return "", err
	}
	defer unlock()
	sections, err := cliReadProfiles(path)
	if err != nil {
		return "", err
	}
	p = sections[profile]
	now := hooks.now()
	if !cliRenewDue(p, now) {
		return p[cliKeyToken], nil
	}
	host, err := cliNormalizeHost(p[cliKeyHost])
	if err != nil {
		return "", fmt.Errorf("renew the token of profile [%s]: %w", profile, err)
	}
	tok, expires, err := cliToken(c.ctx(), host, url.Values{"grant_type": {authserver.GrantRefreshToken},
		"refresh_token": {p[cliKeyRefreshToken]}, "client_id": {authserver.CLIClientID}}, now)
	var oe *cliOAuthError
	if errors.As(err, &oe) && oe.Code == "invalid_grant" {
		return "", fmt.Errorf("session ended: run gatehouse auth login%s", profileFlag(profile))
	}
	if err != nil {
		// A token that has not expired yet still serves this command.
		if exp, perr := time.Parse(time.RFC3339, p[cliKeyTokenExpires]); perr == nil && now.Before(exp) && p[cliKeyToken] != "" {
			c.warnf("could not renew the token of profile [%s] (%v); using it until it expires at %s", profile, err, exp.Format(time.RFC3339))
			return p[cliKeyToken], nil
		}
		return "", fmt.Errorf("renew the token of profile [%s]: %w", profile, err)
	}
	refresh := tok.RefreshToken
	if refresh == "" {
		refresh = p[cliKeyRefreshToken] // an answer without one keeps the old
	}
	if err := cliWriteProfile(path, profile, []cliKV{{cliKeyToken, tok.AccessToken}, {cliKeyRefreshToken, refresh},
		{cliKeyTokenExpires, expires.Format(time.RFC3339)}}, nil); err != nil {
		return "", fmt.Errorf("keep the renewed token: %w", err)
	}
	return tok.AccessToken, nil
}

// ---- logout ----

func (c *clientCLI) logout(ctx context.Context) error {
	profile, explicit, path := c.configRef()
	if path == "" {
		return errors.New("no config file: HOME is not set; set GATEHOUSE_CONFIG_FILE")
	}
	sections, err := c.readConfigFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, ok := sections[profile]; !ok {
		if explicit {
			return fmt.Errorf("profile %q not found in %s", profile, path)
		}
		return c.done("Profile %s is not signed in.", profile)
	}
	unlock, err := cliLockConfig(path)
	if err != nil {
		return err
	}
	defer unlock()
	sections, err = cliReadProfiles(path)
	if err != nil {
		return err
	}
	p, ok := sections[profile]
	if !ok {
		return c.done("Profile %s is not signed in.", profile)
	}
	if p[cliKeyToken] == "" && p[cliKeyRefreshToken] == "" {
		return c.done("Profile %s is not signed in.", profile)
	}
	told, why := false, ""
	if rt := p[cliKeyRefreshToken]; rt != "" {
		told, why = c.revoke(ctx, p[cliKeyHost], rt)
	}
	if err := cliWriteProfile(path, profile, nil, []string{cliKeyToken, cliKeyRefreshToken, cliKeyTokenExpires}); err != nil {
		return err
	}
	switch {
	case told:
		return c.done("Signed out of %s (profile %s): the server ended the session and the profile keeps only its host.", p[cliKeyHost], profile)
	case p[cliKeyRefreshToken] == "":
		c.warnf("profile [%s] held a token without a sign-in session: it is removed from the profile but still valid at the server; revoke it with gatehouse tokens revoke ID", profile)
	default:
		c.warnf("the server was not told (%s): the session's tokens are removed from profile [%s], but the server ends the session only when its refresh token expires", why, profile)
	}
	return c.done("Signed out (profile %s).", profile)
}

// revoke asks host's revocation endpoint (RFC 7009) to end the session of the refresh
// token; it reports whether the server did, and if not, why.
func (c *clientCLI) revoke(ctx context.Context, host, refresh string) (bool, string) {
	host, err := cliNormalizeHost(host)
	if err != nil {
		return false, "the profile has no valid host"
	}
	status, body, err := cliPostForm(ctx, host+authserver.RevokePath, url.Values{"token": {refresh}, "token_type_hint": {authserver.HintRefreshToken},
		"client_id": {authserver.CLIClientID}})
	if err != nil {
		return false, "cannot reach " + host + ": " + err.Error()
	}
	if status == http.StatusOK {
		return true, ""
	}
	var raw struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &raw) == nil && raw.Error != "" {
		return false, fmt.Sprintf("the server refused the revocation: %s", cliCell(truncateCLI(raw.Error, 64)))
	}
	return false, fmt.Sprintf("the revocation endpoint answered HTTP %d", status)
}
