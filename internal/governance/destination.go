package governance

import (
	"sort"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// DestinationOptions are the options that decide where a connection sends its
// credentials (DESIGN §1 "Secrets follow their destination"): the API's host and port,
// the OAuth endpoints, and the header that carries the credential. auth_header_name and
// auth_header_prefix are in the list because moving the credential into another header
// (one the upstream logs or echoes, say) is as good as sending it elsewhere.
var DestinationOptions = []string{
	catalog.OptHost, catalog.OptPort, catalog.OptTokenEndpoint, catalog.OptAuthorizationEndpoint,
	catalog.OptAuthHeaderName, catalog.OptAuthHeaderPrefix,
}

// SecretsOf lists the secret options of a credential type: the ones a destination change
// must supply again.
func SecretsOf(t catalog.CredentialType) []string {
	switch {
	case t == catalog.BearerToken:
		return []string{catalog.OptBearerToken}
	case t.IsOAuth():
		return []string{catalog.OptClientSecret}
	}
	return nil
}

// DestinationChanges returns, in name order, the destination options whose effective
// value differs between two option sets that catalog.ValidateOptions normalized. Two
// spellings of one destination are no change (catalog.DestinationOf): a default port
// written out or left out, a port in host or in port, upper or lower case in scheme,
// host and header name, a trailing dot of a host name, an IPv6 address written in
// another form, and an absent auth header option against its default.
func DestinationChanges(old, next map[string]string) []string {
	a, b := catalog.DestinationOf(old), catalog.DestinationOf(next)
	var out []string
	for _, f := range []struct {
		option string
		differ bool
	}{
		// A port moved between host and port is the same destination: both are
		// compared in their effective form, and a change of either is named as such.
		{catalog.OptHost, a.Host != b.Host},
		{catalog.OptPort, a.Port != b.Port},
		{catalog.OptTokenEndpoint, a.TokenEndpoint != b.TokenEndpoint},
		{catalog.OptAuthorizationEndpoint, a.AuthorizationEndpoint != b.AuthorizationEndpoint},
		{catalog.OptAuthHeaderName, a.HeaderName != b.HeaderName},
		{catalog.OptAuthHeaderPrefix, a.HeaderPrefix != b.HeaderPrefix},
	} {
		if f.differ {
			out = append(out, f.option)
		}
	}
	sort.Strings(out)
	return out
}
