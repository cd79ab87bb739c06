package oauth

import (
	"errors"
	"strings"
)

// TryOrder is the order in which TryMethods tries the exchange methods when the
// option is unset and the provider publishes no metadata:
//
//   - header_and_body first: it is what Gatehouse has always sent, and every lenient
//     provider accepts it, so a connection that works today keeps its method. Both
//     copies of the secret go to the same endpoint in one TLS request, so the second
//     copy exposes nothing more; the only cost is a strict server's refusal.
//   - header_only next: HTTP Basic (client_secret_basic) is the method RFC 6749
//     §2.3.1 requires every server to support and RFC 8414's default, so a strict
//     server most likely accepts it.
//   - body_only last (client_secret_post), for servers that read only the form.
var TryOrder = []ExchangeMethod{ExchangeHeaderAndBody, ExchangeHeaderOnly, ExchangeBodyOnly}

// TryMethods calls call with cfg under each method of TryOrder, in order, and returns
// the first token and the method that got it. Only a refusal about the method
// (Error.MethodMayBeWrong) moves on to the next; any other failure is returned at
// once. When every method is refused, the last refusal is returned with a hint that
// names the methods tried and oauth_credential_exchange_method. call runs at most
// len(TryOrder) times.
//
// For an authorization code the retries are safe: a refusal about client
// authentication comes before the server looks at the grant, so the code is still
// unused (RFC 6749 §3.2.1 authenticates the client first; fosite does so before any
// grant handler runs).
func TryMethods(cfg Config, call func(Config) (*Token, error)) (*Token, ExchangeMethod, error) {
	var last error
	for _, m := range TryOrder {
		cfg.Method = m
		tok, err := call(cfg)
		if err == nil {
			return tok, m, nil
		}
		var e *Error
		if !errors.As(err, &e) || !e.MethodMayBeWrong() {
			return nil, "", err
		}
		last = err
	}
	var e *Error
	if errors.As(last, &e) {
		names := make([]string, len(TryOrder))
		for i, m := range TryOrder {
			names[i] = string(m)
		}
		cp := *e
		cp.Hint = "the provider publishes no metadata, and Gatehouse tried oauth_credential_exchange_method " +
			strings.Join(names, ", ") + ": each was refused, so client_id or client_secret is probably wrong; if they are right, set oauth_credential_exchange_method to the method the provider documents"
		return nil, "", &cp
	}
	return nil, "", last
}
