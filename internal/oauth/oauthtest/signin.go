package oauthtest

import (
	"html/template"
	"net/http"
	"net/url"
	"sort"
)

// The provider's sign-in page, for browser tests (Options.SignInPage here, always in
// ssotest): an authorization request that names no test_user shows a form asking for
// the user name, which sends the same request again with test_user set, as a real
// provider's login page leads on to its authorization.
var signInPage = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · {{.Title}}</title></head>
<body><h1 id="idp-heading">Sign in to {{.Title}}</h1>
<form method="get" action="{{.Action}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<label for="idp-username">User name</label>
<input id="idp-username" name="test_user" autocomplete="off">
<button type="submit" id="idp-sign-in">Sign in</button>
</form></body></html>
`))

// SignInPage writes the sign-in page of an authorization request r that has no
// test_user; title names the provider on the page.
func SignInPage(w http.ResponseWriter, r *http.Request, title string) {
	type field struct{ Name, Value string }
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var hidden []field
	for _, k := range keys {
		for _, v := range q[k] {
			hidden = append(hidden, field{k, v})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = signInPage.Execute(w, map[string]any{"Title": title, "Action": (&url.URL{Path: r.URL.Path}).String(), "Hidden": hidden})
}
