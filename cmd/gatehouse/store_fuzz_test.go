package main

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzStoreValue feeds --store values to the validation and the label the logs show:
// neither panics, an error never quotes the value, and the label never shows the URL's
// password.
func FuzzStoreValue(f *testing.F) {
	for _, s := range []string{
		"sqlite", "", "SQLITE", "postgres://db/gh", "postgresql://u:pw@db:5432/gh?sslmode=require",
		"postgres:///gh?host=/run/postgresql", "postgres://u:" + dsnCanary + "@db:x/gh", "postgres://%zz", "mysql://u:p@h/db",
		"postgres://u:p@[::1]:5432/gh", "postgres://u@h/gh?password=" + dsnCanary,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := checkStore(v)
		// The errors are fixed sentences: nothing of the value can be in them.
		if err != nil && err != errStoreForm && err != errStoreUnparsable && err != errStoreInvalid {
			t.Fatalf("unexpected error: %v", err)
		}
		label := storeLabel(v, "/data")
		if !isPostgresURL(v) {
			return
		}
		if !strings.HasPrefix(label, "postgres://") {
			t.Fatalf("label %q of a PostgreSQL URL", label)
		}
		u, perr := url.Parse(v)
		if perr != nil {
			return
		}
		secrets := []string{u.Query().Get("password")}
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
		shown := u.Host + u.Path + u.User.Username() + u.Query().Get("host")
		for _, pw := range secrets {
			if len(pw) >= 8 && !strings.Contains(shown, pw) && strings.Contains(label, pw) {
				t.Fatalf("label %q shows the password %q", label, pw)
			}
		}
	})
}
