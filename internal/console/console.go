// Package console is Gatehouse's web console (DESIGN §2, Operations): server-rendered
// pages for the people who run Gatehouse — connections and their credentials, the
// inventory, the audit log, the network perimeter, principals and tokens, and a home
// page that says whether everything is all right.
//
// Pages are html/template from embedded templates, with one embedded style sheet and
// one small same-origin script (copy buttons); they work without it. Every page needs a
// signed-in browser session (Sessions, implemented by internal/webui) and shows only
// what the governance operations show its viewer: the console never reads the store
// and filters for itself. Every form is a POST checked against the session's CSRF
// token and the browser's same-origin headers before anything is read or changed, and
// each change writes the one audit record the API writes for it. The content security
// policy allows no inline script or style at all.
//
// The package depends on the domain (catalog, governance, credential), never on a
// sibling surface (httpapi, webui).
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
	"github.com/gatehouse/gatehouse/internal/reqbody"
)

// Sessions tells the console who is signed in; internal/webui's UI implements it with
// its browser sessions.
type Sessions interface {
	// Viewer returns the signed-in principal of the request's session and the
	// session's CSRF token; ok is false when there is none (or it has ended).
	Viewer(r *http.Request) (p *catalog.Principal, csrf string, ok bool)
	// FormOK reports whether a posted form is same-origin and carries csrf in its csrf
	// field.
	FormOK(r *http.Request, csrf string) bool
}

// Deps are the console's collaborators, built by cmd/gatehouse.
type Deps struct {
	// Gov runs every read and change a page makes.
	Gov *governance.Service
	// Sessions says who is signed in.
	Sessions Sessions
	// Audit records the one event of each change a form makes; nil records nothing.
	Audit governance.Recorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives failures; nil discards.
	Log *slog.Logger
	// PublicURL is the externally visible base URL (no trailing slash), for the OAuth
	// redirect URI the wizard shows.
	PublicURL string
	// FormTimeout bounds how long a posted form may take to arrive; zero means
	// DefaultFormTimeout.
	FormTimeout time.Duration
}

// DefaultFormTimeout is the form timeout when Deps.FormTimeout is zero.
const DefaultFormTimeout = reqbody.DefaultTimeout

// maxFormBytes bounds a posted form: the largest is the wizard's, with a PEM-sized
// secret or two.
const maxFormBytes = 64 << 10

// CallbackPath is the OAuth redirect URI's path under PublicURL (webui serves it).
const CallbackPath = "/login/oauth/http.html"

// AssetPrefix is where the embedded style sheet and script are served.
const AssetPrefix = "/console/assets/"

// ContentSecurityPolicy is on every console response: own scripts, styles and images
// only, no inline anything, forms only to Gatehouse, never framed.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Console is the http.Handler of the console pages; mount it for each of Patterns.
type Console struct {
	d     Deps
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// Patterns are the mux patterns the console serves, for the caller to route to it.
// Each page file adds its own (addRoutes, at init).
var Patterns = []string{"GET " + AssetPrefix + "{file}"}

// viewer is the signed-in principal a request is served for.
type viewer struct {
	P    *catalog.Principal
	CSRF string
}

// handlerFunc serves a request of a signed-in viewer; for a POST the form has been
// read and its CSRF token checked.
type handlerFunc func(c *Console, w http.ResponseWriter, r *http.Request, v *viewer)

type route struct {
	pattern string
	h       handlerFunc
}

var (
	routeTable []route
	funcTable  = template.FuncMap{}
)

// addRoutes registers page routes; page files call it from init.
func addRoutes(rs ...route) {
	for _, r := range rs {
		routeTable = append(routeTable, r)
		Patterns = append(Patterns, r.pattern)
	}
}

// addFuncs registers template functions; page files call it from init.
func addFuncs(m template.FuncMap) {
	for k, f := range m {
		funcTable[k] = f
	}
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

// parsePages parses every page once: the layout plus each templates/*.html file. The
// templates are constants compiled into the binary, so an error is a build defect that
// every test run hits at once.
var parsePages = sync.OnceValues(func() (map[string]*template.Template, error) {
	layout, err := template.New("layout.html").Funcs(funcTable).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	m := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, err
		}
		m[base] = t
	}
	return m, nil
})

// New returns the console over d.
func New(d Deps) *Console {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.FormTimeout <= 0 {
		d.FormTimeout = DefaultFormTimeout
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pages, err := parsePages()
	if err != nil {
		// The templates are compiled in: a parse error is a build defect, and every
		// test that starts a console reports it. Pages answer 500 meanwhile.
		log.Error("console: parse templates", "err", err)
	}
	c := &Console{d: d, log: log, mux: http.NewServeMux(), pages: pages}
	c.mux.HandleFunc("GET "+AssetPrefix+"{file}", c.asset)
	for _, rt := range routeTable {
		c.mux.Handle(rt.pattern, c.wrap(rt))
	}
	return c
}

// ServeHTTP sets the security headers of every console response and dispatches.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// wrap authenticates every request before anything else: no session sends the
// browser to sign in (303 /login?next=this page, or home for a form). A POST then has its form read,
// bounded in size and time, and checked (FormOK) before the handler runs; a failed
// check answers 403 and changes nothing.
func (c *Console) wrap(rt route) http.Handler {
	post := strings.HasPrefix(rt.pattern, "POST ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, csrf, ok := c.d.Sessions.Viewer(r)
		if !ok {
			reqbody.RefuseUnread(w, r)
			// A form's own path answers only POST: after signing in, the browser goes
			// home instead.
			next := "/"
			if !post {
				next = r.URL.EscapedPath()
				if r.URL.RawQuery != "" {
					next += "?" + r.URL.RawQuery
				}
			}
			redirect(w, "/login?next="+url.QueryEscape(next))
			return
		}
		v := &viewer{P: p, CSRF: csrf}
		if post {
			if !c.readForm(w, r) {
				c.render(w, r, http.StatusBadRequest, v, "error.html", &page{Title: "Form refused", Error: "The form could not be read: it is too large or took too long to arrive."})
				return
			}
			if !c.d.Sessions.FormOK(r, csrf) {
				c.log.Warn("console form refused: CSRF check failed", "path", r.URL.Path, "principal", p.Name)
				c.render(w, r, http.StatusForbidden, v, "error.html", &page{Title: "Form refused",
					Error: "This form was not sent from a Gatehouse page in this browser, or it has expired. Go back, reload the page and try again."})
				return
			}
		}
		rt.h(c, w, r, v)
	})
}

// readForm reads a posted form with its bounds: maxFormBytes, and FormTimeout as the
// read deadline (reqbody.ReadForm). A form that fails to read ends its connection.
func (c *Console) readForm(w http.ResponseWriter, r *http.Request) bool {
	return reqbody.ReadForm(w, r, maxFormBytes, c.d.FormTimeout) == nil
}

// redirect answers 303 with a bare Location header.
func redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// asset serves the embedded style sheet and script.
func (c *Console) asset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := assetFS.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// page is the data of every page: the layout's fields and the page's own in Data.
type page struct {
	Title string
	// Nav names the nav entry of the page (its id without "nav-").
	Nav string
	// User and CSRF are the viewer's, filled by render.
	User string
	CSRF string
	// Flash is a fixed message of a change that just succeeded; Error an error's
	// message (never a secret).
	Flash string
	Error string
	// RequestID is shown with an internal error.
	RequestID string
	Data      any
}

// render writes the page with the status, rendered into a buffer first so that a
// template failure becomes a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, v *viewer, name string, p *page) {
	if v != nil {
		p.User, p.CSRF = v.P.Name, v.CSRF
	}
	t := c.pages[name]
	var buf bytes.Buffer
	if t == nil {
		c.log.Error("console: no such page template", "page", name)
		c.plainError(w)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		c.log.Error("console: render page", "page", name, "path", r.URL.Path, "err", err)
		c.plainError(w)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) plainError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("internal error\n"))
}

// fail shows an error page: a *catalog.Error's message with its status; anything else
// is logged with the request id and shown as a generic 500.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		c.render(w, r, ce.HTTPStatus(), v, "error.html", &page{Title: "Error", Error: ce.Message})
		return
	}
	id := catalog.RequestInfoFrom(r.Context()).RequestID
	c.log.Error("console: internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	c.render(w, r, http.StatusInternalServerError, v, "error.html", &page{Title: "Error",
		Error: "Gatehouse could not complete this request because of an internal error.", RequestID: id})
}

// errMessage is what a form shows next to itself for err: a *catalog.Error's message,
// else a generic line (the error itself is logged).
func (c *Console) errMessage(r *http.Request, err error) string {
	var ce *catalog.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	id := catalog.RequestInfoFrom(r.Context()).RequestID
	c.log.Error("console: internal error", "request_id", id, "method", r.Method, "path", r.URL.Path, "err", err)
	return "Gatehouse could not complete this request because of an internal error (request id " + id + ")."
}

// audit writes the one record of a change a form made, as the API writes it for the
// same operation (governance.Event), with the console's method and path.
func (c *Console) audit(r *http.Request, v *viewer, action string, rec *governance.Record, err error) {
	if c.d.Audit == nil {
		return
	}
	if rec == nil {
		rec = &governance.Record{}
	}
	if rec.Connection == "" {
		rec.Connection = r.PathValue("name") // as the API's records: the name asked for
	}
	e := governance.Event(action, v.P, catalog.RequestInfoFrom(r.Context()), rec, 0, err)
	e.Params["method"], e.Params["path"] = r.Method, r.URL.Path
	c.d.Audit.Record(context.WithoutCancel(r.Context()), e)
}
