package main

import (
	"bytes"
	"errors"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIRewriteConfig: a profile's keys are set where they stand or added at the end
// of its block, deleted keys go, and every other line — other profiles, other keys,
// comments, blank lines, CRLF endings — stays as it was.
func TestCLIRewriteConfig(t *testing.T) {
	set := []cliKV{{"token", "T2"}, {"refresh_token", "R2"}}
	cases := []struct {
		name, src, profile string
		set                []cliKV
		del                []string
		want               string
	}{
		{"empty file", "", "DEFAULT", set, nil, "[DEFAULT]\ntoken = T2\nrefresh_token = R2\n"},
		{"replace in place, add after the last key", "# top\n[DEFAULT]\nhost = h\nToken=T1 \n# note\n\n[other]\ntoken = O\n", "DEFAULT", set, nil,
			"# top\n[DEFAULT]\nhost = h\nToken = T2\nrefresh_token = R2\n# note\n\n[other]\ntoken = O\n"},
		{"new profile at the end", "[DEFAULT]\nhost = h", "prod", set, nil, "[DEFAULT]\nhost = h\n\n[prod]\ntoken = T2\nrefresh_token = R2\n"},
		{"delete keeps host and comments", "[DEFAULT]\n; mine\nhost = h\ntoken = T\nrefresh_token = R\ntoken_expires = x\n[b]\ntoken = B\n", "DEFAULT", nil,
			[]string{"token", "refresh_token", "token_expires"}, "[DEFAULT]\n; mine\nhost = h\n[b]\ntoken = B\n"},
		{"delete from a missing profile", "[a]\nk = v\n", "DEFAULT", nil, []string{"token"}, "[a]\nk = v\n"},
		{"CRLF", "[DEFAULT]\r\nhost = h\r\ntoken = T\r\n", "DEFAULT", set, nil, "[DEFAULT]\r\nhost = h\r\ntoken = T2\r\nrefresh_token = R2\r\n"},
		{"every block of a repeated profile", "[p]\ntoken = 1\n[q]\nk = v\n[p]\nx = y\n", "p", set, nil,
			"[p]\ntoken = T2\n[q]\nk = v\n[p]\nx = y\nrefresh_token = R2\n"},
		{"section name with spaces", "[ DEFAULT ]\nhost = h\n", "DEFAULT", []cliKV{{"token", "T"}}, nil, "[ DEFAULT ]\nhost = h\ntoken = T\n"},
		{"empty profile block", "[DEFAULT]\n[b]\nk = v\n", "DEFAULT", []cliKV{{"token", "T"}}, nil, "[DEFAULT]\ntoken = T\n[b]\nk = v\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cliRewriteConfig([]byte(tc.src), tc.profile, tc.set, tc.del)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("cliRewriteConfig(%q) =\n%q\nwant\n%q", tc.src, got, tc.want)
			}
		})
	}
	bad := []struct {
		name, src, profile string
		set                []cliKV
	}{
		{"value with a newline", "", "DEFAULT", []cliKV{{"token", "T\n[evil]"}}},
		{"profile with a bracket", "", "a]b", []cliKV{{"token", "T"}}},
		{"a file it cannot parse", "key outside = a section\n", "DEFAULT", []cliKV{{"token", "T"}}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if out, err := cliRewriteConfig([]byte(tc.src), tc.profile, tc.set, nil); err == nil {
				t.Errorf("rewrote to %q, want an error", out)
			}
		})
	}
}

// TestCLIWriteProfile: the file is replaced whole with mode 0600, its missing folder
// made 0700, a symbolic link's target rewritten, and no temporary file left behind.
func TestCLIWriteProfile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "config")
	if err := cliWriteProfile(path, "DEFAULT", []cliKV{{"host", "https://h.example"}}, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("folder %v %v, want 0700", fi.Mode(), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file %v %v, want 0600", fi.Mode(), err)
	}
	link := filepath.Join(t.TempDir(), "config")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := cliWriteProfile(link, "DEFAULT", []cliKV{{"token", "T"}}, nil); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file: %v %v", fi.Mode(), err)
	}
	p, err := cliReadProfiles(path)
	if err != nil || !maps.Equal(p["DEFAULT"], map[string]string{"host": "https://h.example", "token": "T"}) {
		t.Errorf("profile %v %v", p, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left in the folder: %v", entries)
	}
}

// TestCLIParseCallback: the callback's state must match, in full; an OAuth error is
// reported in the server's words; no error quotes the code.
func TestCLIParseCallback(t *testing.T) {
	const state = "S-state-0123456789abcdef0123456789abcdef0123"
	const code = "C0DE-value-0123456789"
	cases := []struct {
		name, query string
		want        string // "" for the code
	}{
		{"ok", url.Values{"code": {code}, "state": {state}, "iss": {"https://gh.example"}}.Encode(), ""},
		{"wrong state", url.Values{"code": {code}, "state": {state + "x"}}.Encode(), "state does not match"},
		{"state prefix", url.Values{"code": {code}, "state": {state[:10]}}.Encode(), "state does not match"},
		{"no state", url.Values{"code": {code}}.Encode(), "state does not match"},
		{"state twice", "state=" + state + "&state=" + state + "&code=" + code, "repeats"},
		{"error", url.Values{"error": {"access_denied"}, "error_description": {"the user denied\x1b[2J"}, "state": {state}}.Encode(), "access_denied: the user denied?[2J"},
		{"error with the wrong state", url.Values{"error": {"access_denied"}, "state": {"x"}}.Encode(), "state does not match"},
		{"no code", url.Values{"state": {state}}.Encode(), "no valid code"},
		{"code with a space", url.Values{"code": {"a b"}, "state": {state}}.Encode(), "no valid code"},
		{"too long", "state=" + state + "&code=" + strings.Repeat("c", cliMaxCallbackQuery), "too long"},
		{"not a query", "state=%zz", "not a valid query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cliParseCallback(tc.query, state)
			if tc.want == "" {
				if err != nil || got != code {
					t.Fatalf("cliParseCallback = %q, %v; want the code", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || got != "" {
				t.Fatalf("cliParseCallback = %q, %v; want an error saying %q", got, err, tc.want)
			}
			if strings.Contains(err.Error(), code) {
				t.Errorf("the error %q quotes the code", err)
			}
		})
	}
	if _, err := cliParseCallback(url.Values{"code": {code}, "state": {""}}.Encode(), ""); !errors.Is(err, errCallbackState) {
		t.Errorf("an empty expected state accepted a callback: %v", err)
	}
}

// TestCLIRenewDue: a token is renewed when its expiry is past, within a minute, or
// unreadable, and only when there is a refresh token.
func TestCLIRenewDue(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		p       map[string]string
		renewed bool
	}{
		{"fresh", map[string]string{"refresh_token": "r", "token_expires": "2026-12-01T12:30:00Z"}, false},
		{"within the minute", map[string]string{"refresh_token": "r", "token_expires": "2026-12-01T12:00:59Z"}, true},
		{"at the minute", map[string]string{"refresh_token": "r", "token_expires": "2026-12-01T12:01:00Z"}, true},
		{"just past the minute", map[string]string{"refresh_token": "r", "token_expires": "2026-12-01T12:01:01Z"}, false},
		{"past", map[string]string{"refresh_token": "r", "token_expires": "2026-11-30T12:00:00Z"}, true},
		{"unreadable", map[string]string{"refresh_token": "r", "token_expires": "tomorrow"}, true},
		{"no expiry", map[string]string{"refresh_token": "r"}, true},
		{"no refresh token", map[string]string{"token_expires": "2020-01-01T00:00:00Z"}, false},
	}
	for _, tc := range cases {
		if got := cliRenewDue(tc.p, now); got != tc.renewed {
			t.Errorf("%s: cliRenewDue = %v, want %v", tc.name, got, tc.renewed)
		}
	}
}

// FuzzCLIParseCallback: any callback query is judged without panicking; a code is
// returned only for the right state, and no error quotes the code.
func FuzzCLIParseCallback(f *testing.F) {
	f.Add("code=abcdefgh&state=s1", "s1")
	f.Add("error=access_denied&state=s1", "s1")
	f.Add("code=abcdefgh&state=s2", "s1")
	f.Add("state=s1&state=s1", "s1")
	f.Add("%zz", "s1")
	f.Fuzz(func(t *testing.T, raw, state string) {
		code, err := cliParseCallback(raw, state)
		q, perr := url.ParseQuery(raw)
		if err == nil {
			if perr != nil || state == "" || q.Get("state") != state || q.Get("code") != code || code == "" {
				t.Fatalf("accepted %q for state %q: code %q", raw, state, code)
			}
			return
		}
		if c := q.Get("code"); len(c) >= 8 && strings.Contains(err.Error(), c) {
			t.Fatalf("error %q quotes the code", err)
		}
	})
}

// FuzzCLIRewriteConfig: whatever the file, a rewrite that succeeds parses again with
// the new values set, the deleted keys gone and every other profile as it was.
func FuzzCLIRewriteConfig(f *testing.F) {
	f.Add([]byte("[DEFAULT]\nhost = h\ntoken = t\n"), "DEFAULT", "tok")
	f.Add([]byte("# c\n[a]\nx=1\n[DEFAULT]\r\n"), "a", "v")
	f.Add([]byte(""), "p", "v")
	f.Fuzz(func(t *testing.T, src []byte, profile, value string) {
		out, err := cliRewriteConfig(src, profile, []cliKV{{"token", value}}, []string{"refresh_token"})
		if err != nil {
			return
		}
		before, err1 := cliParseConfig(bytes.NewReader(src))
		after, err2 := cliParseConfig(bytes.NewReader(out))
		if err1 != nil || err2 != nil {
			t.Fatalf("rewrite of %q to %q: %v %v", src, out, err1, err2)
		}
		if after[profile]["token"] != value || after[profile]["refresh_token"] != "" {
			t.Fatalf("rewrite of %q: profile %v, want token %q and no refresh_token", src, after[profile], value)
		}
		for name, p := range before {
			if name != profile && !maps.Equal(p, after[name]) {
				t.Fatalf("rewrite of %q changed profile %q: %v -> %v", src, name, p, after[name])
			}
		}
	})
}
