package webui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var styleSheet string

// The pages. Each is the layout plus one "content" template.
const (
	pageSignIn        = "signin.html"
	pageResult        = "result.html"
	pageProviderError = "provider_error.html"
	pageError         = "error.html"
	pageConfirm       = "confirm.html"
	pageAuthorize     = "authorize.html" // issue 12: MCP client consent
	pageContinue      = "continue.html"  // a form's step to another site (continueTo)
)

// pages are parsed once. The templates are constants compiled into the binary, so a
// parse error is a build defect that every test run hits at once, like a bad
// regexp.MustCompile; there is nothing a running server could do about it.
var pages = func() map[string]*template.Template {
	layout := template.Must(template.ParseFS(templateFS, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, p := range []string{pageSignIn, pageResult, pageProviderError, pageError, pageConfirm, pageAuthorize, pageContinue} {
		m[p] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+p))
	}
	return m
}()

// view is the data of every page; each page uses the fields it needs. Values are
// escaped by html/template; none of them is ever a token, a code or a session id.
type view struct {
	Title string
	CSS   template.CSS
	User  string // the signed-in principal's name, if any
	// Refresh, when set, is where the page sends the browser on by itself (continueTo):
	// an absolute http(s) URL or a local path.
	Refresh string

	// Sign-in page.
	CSRF   string
	Next   string
	Error  string
	Notice string
	// SSOHost, when set, offers "Sign in with SSOHost" (a form posting to SSOAction),
	// with token sign-in behind a disclosure.
	SSOHost   string
	SSOAction string

	// Login result and provider errors.
	Connection  string
	Shared      bool
	Warning     string
	Code        string
	Description string
	RetryPath   string
	Action      string // the confirmation page's form target

	// MCP client consent (issue 12).
	Client   string
	ClientID string
	Hidden   []hiddenField
	CLI      bool // the Gatehouse CLI asks to act as the user everywhere (issue 12)

	// Error pages.
	Heading     string
	Message     string
	Hints       []string
	RedirectURI string
	RequestID   string
	Status      int
}

// render writes the page with the status. The page is rendered into a buffer first, so
// that a template failure becomes a clean 500 instead of half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	v.CSS = template.CSS(styleSheet)
	var buf bytes.Buffer
	if err := pages[page].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.Error("render page", "page", page, "path", r.URL.Path, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("internal error\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
