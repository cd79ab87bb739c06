package scaleout

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"testing"
)

// browser keeps cookies and does not follow redirects. Cookies are per host, not per
// port, so a session made on one replica (127.0.0.1:A) is sent to every other
// (127.0.0.1:B): the test picks the replica of each request, as a load balancer
// without sticky sessions would.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB, caFile string) *browser {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf"`)

// signIn signs in on the replica at base with a token, through the sign-in form.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	_, page := b.get(base + "/login")
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no csrf field on the sign-in page:\n%s", page)
	}
	resp, err := b.c.PostForm(base+"/login", url.Values{"token": {token}, "csrf": {m[1] + m[2]}, "next": {"/"}})
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in on %s = %d, want 303", base, resp.StatusCode)
	}
}

// startLogin opens /connections/{name}/login on base and returns the provider URL it
// redirects to.
func (b *browser) startLogin(base, conn string) *url.URL {
	b.t.Helper()
	resp, body := b.get(base + "/connections/" + conn + "/login")
	if resp.StatusCode != http.StatusFound {
		b.t.Fatalf("login start on %s = %d %s", base, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

// authorize visits the provider as user and returns where it sends the browser back.
func (b *browser) authorize(provider *url.URL, user string) *url.URL {
	b.t.Helper()
	q := provider.Query()
	q.Set("test_user", user)
	provider.RawQuery = q.Encode()
	resp, body := b.get(provider.String())
	if resp.StatusCode/100 != 3 {
		b.t.Fatalf("authorize = %d %s", resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.t.Fatal(err)
	}
	return back
}

// to returns u sent to the replica at base instead (same path and query).
func to(u *url.URL, base string) string {
	bu, _ := url.Parse(base)
	v := *u
	v.Scheme, v.Host = bu.Scheme, bu.Host
	return v.String()
}

// loginShared runs the admin's browser login of a shared connection on r, as user
// at the provider.
func loginShared(t testing.TB, r *replica, caFile, conn, user string) {
	t.Helper()
	b := newBrowser(t, caFile)
	b.signIn(r.URL, r.c.Admin)
	back := b.authorize(b.startLogin(r.URL, conn), user)
	if resp, page := b.get(to(back, r.URL)); resp.StatusCode != 200 {
		t.Fatalf("login of %s on %s = %d %s", conn, r.AppName, resp.StatusCode, page)
	}
}
