package console

import (
	"fmt"
	"html/template"
	"net/url"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func init() {
	addFuncs(template.FuncMap{
		"pathEscape": url.PathEscape,
		"stateClass": stateClass,
	})
}

// stateClass is the badge colour of a credential state: ok, warn (a human will soon
// be needed), err (calls fail now), info (nothing held yet), off (disabled).
func stateClass(state string) string {
	switch catalog.CredentialState(state) {
	case catalog.StateActive:
		return "ok"
	case catalog.StateExpiring, catalog.StateDegraded:
		return "warn"
	case catalog.StateDisabled:
		return "off"
	case catalog.StateNeedsLogin:
		return "info"
	}
	return "err"
}

// relative says how far t is from now in words: "in 3 days", "5 minutes ago"; the
// zero time is "never".
func relative(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := t.Sub(now)
	future := d >= 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return map[bool]string{true: "in under a minute", false: "just now"}[future]
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	case d < 60*24*time.Hour:
		s = plural(int(d/(24*time.Hour)), "day")
	default:
		s = plural(int(d/(30*24*time.Hour)), "month")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// when is a time for a page: its relative form and its exact UTC time (for a title).
type when struct {
	Rel   string
	Exact string
	Zero  bool
}

func (c *Console) when(t time.Time) when {
	if t.IsZero() {
		return when{Rel: "never", Zero: true}
	}
	return when{Rel: relative(t, c.d.Now()), Exact: t.UTC().Format("2006-01-02 15:04 UTC")}
}
