package credential

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/oauth"
)

// m2mFetchError words the failure of the first client-credentials exchange of an M2M
// connection being created or changed. Only an answer of the token endpoint can refuse
// the client credentials; a token endpoint that could not be reached (connection
// refused, no such host, a TLS failure, a timeout, the network policy) or answered
// with a server failure says so, and why, so that an admin does not chase a secret
// that is right. The texts name the endpoint's host as configured, never an address
// it resolved to (the egress dialer's errors carry none).
func m2mFetchError(err error) error {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		return err
	}
	switch {
	case oe.Status == 0 && oe.Err != nil:
		var ce *catalog.Error
		if errors.As(oe.Err, &ce) && ce.Code == catalog.NetworkPolicyDenied {
			return catalog.Errorf(catalog.NetworkPolicyDenied, "could not reach the token endpoint%s: %s", atHost(oe.Endpoint), ce.Message)
		}
		return catalog.Errorf(catalog.InvalidParameterValue, "could not reach the token endpoint%s: %s; the client credentials were not checked",
			atHost(oe.Endpoint), unreachableReason(oe.Err))
	case oe.Status == 0:
		// Gatehouse did not send the request (an endpoint it will not call).
		return catalog.Errorf(catalog.InvalidParameterValue, "did not call the token endpoint: %s", oe.Error())
	case oe.Status == http.StatusTooManyRequests || oe.Status >= 500:
		return catalog.Errorf(catalog.TemporarilyUnavailable, "the token endpoint failed, so the client credentials could not be checked; try again: %s", oe.Error())
	}
	return catalog.Errorf(catalog.InvalidParameterValue, "the token endpoint refused the client credentials: %s", oe.Error())
}

// atHost is " at HOST" for the endpoint, as configured.
func atHost(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return ""
	}
	return " at " + u.Host
}

// unreachableReason says why a request got no answer, in words that name no address.
func unreachableReason(err error) string {
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var invalid x509.CertificateInvalidError
	var header tls.RecordHeaderError
	var alert tls.AlertError
	var verify *tls.CertificateVerificationError
	var netErr net.Error
	switch {
	case errors.As(err, &unknownCA):
		return "TLS failed: its certificate is signed by an authority this server does not trust (a private CA goes in --upstream-ca-file)"
	case errors.As(err, &badHost):
		return "TLS failed: its certificate is not valid for this host name"
	case errors.As(err, &invalid):
		return "TLS failed: its certificate is not valid (expired, not yet valid or not for a server)"
	case errors.As(err, &verify):
		return "TLS failed: its certificate could not be verified"
	case errors.As(err, &header):
		return "TLS failed: it does not speak TLS on that port (an http:// server?)"
	case errors.As(err, &alert):
		return "TLS failed: the handshake was refused (" + alert.Error() + ")"
	case errors.As(err, &dnsErr):
		if dnsErr.IsTimeout {
			return "its name could not be resolved: the DNS lookup timed out"
		}
		return "its name could not be resolved (no such host)"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return "it did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "the connection was refused (nothing listens on that port)"
	case errors.Is(err, syscall.ECONNRESET):
		return "the connection was reset"
	}
	// net's own errors name the address dialed: keep only the cause.
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return "the connection failed: " + opErr.Err.Error()
	}
	// The egress dialer's errors name the destination as configured and the cause
	// ("connection refused"), no address.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}
