package webui

import "net/url"

// maxNext bounds the length of a next path.
const maxNext = 2048

// safeNext returns next if it is a path on this Gatehouse, and "" otherwise, so that
// sign-in can never be turned into an open redirect. A browser reads "//evil.com" and
// "/\evil.com" as another host, strips tabs and newlines before parsing (so "/\t/evil.com"
// is "//evil.com"), and treats "\" as "/" anywhere; hence: it must start with a single
// "/", contain only printable ASCII without spaces or backslashes, and parse as a
// path with neither scheme nor host.
func safeNext(next string) string {
	if len(next) < 1 || len(next) > maxNext || next[0] != '/' {
		return ""
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return ""
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	return next
}

// signedInHome is where a sign-in without a next path lands: the web console's home
// page (issue 13). Before the console, it was the sign-in page again, which showed who
// had signed in and nothing else to do.
const signedInHome = "/"

// landing is where a sign-in (by token or by single sign-on) goes: next, already checked
// by safeNext, or signedInHome when there is none.
func landing(next string) string {
	if next == "" {
		return signedInHome
	}
	return next
}
