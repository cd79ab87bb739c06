package egress

import (
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// maxHostInput bounds the host text we look at at all; a DNS name is at most 253 bytes,
// and anything much longer is refused before any parsing work.
const maxHostInput = 1024

// NormalizeHost turns a host as a caller gave it (no port) into the one form every
// decision is made on: either an IP address or a DNS name, never both.
//
// IP literals in every form a C resolver's inet_aton would accept are parsed as IPs, so
// that they are classified as the addresses they are and never sent to DNS: decimal
// (2130706433), hex (0x7f000001, 0x7f.1), octal (0177.0.0.1), short (127.1, 127.0.1),
// bracketed IPv6 ([::ffff:7f00:1]); IPv4-mapped IPv6 is unmapped to IPv4. A host whose
// last label is a number (all digits, or 0x and hex digits) is an IPv4 literal or
// invalid, never a name. IPv6 zone identifiers (fe80::1%eth0) are refused outright: a
// zone picks a local interface, which no outbound API call needs.
//
// A name is returned in lower case, without a trailing dot, IDNs in punycode (the
// idna.Lookup profile), made only of ASCII letters, digits, '-' and '_'.
//
// Errors are *catalog.Error INVALID_PARAMETER_VALUE.
func NormalizeHost(host string) (name string, ip netip.Addr, err error) {
	name, ip, reason := normalizeHost(host)
	if reason != "" {
		return "", netip.Addr{}, catalog.Errorf(catalog.InvalidParameterValue, "invalid host %s: %s", displayHost(host), reason)
	}
	return name, ip, nil
}

// normalizeHost is NormalizeHost with the reason for a refusal as a plain phrase.
func normalizeHost(s string) (name string, ip netip.Addr, reason string) {
	if s == "" {
		return "", netip.Addr{}, "empty host"
	}
	if len(s) > maxHostInput {
		return "", netip.Addr{}, "host too long"
	}
	if strings.ContainsRune(s, '%') {
		// An IPv6 zone (fe80::1%eth0, or %25eth0 as URLs encode it) or a percent-encoded
		// name: neither belongs in an outbound destination.
		return "", netip.Addr{}, "zone identifiers and percent-encoding are not allowed"
	}
	if strings.HasPrefix(s, "[") || strings.ContainsRune(s, ':') {
		return parseIPv6Literal(s)
	}
	ascii := s
	if !isASCII(s) {
		// IDNA maps first: full-width digits and dots (１２７．０．０．１) become an IPv4
		// literal here, and must be treated as one below.
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", netip.Addr{}, "not a valid internationalized domain name"
		}
		ascii = a
	}
	ascii = strings.ToLower(ascii)
	ascii = strings.TrimSuffix(ascii, ".")
	if endsInNumber(ascii) {
		a, ok := parseIPv4Loose(ascii)
		if !ok {
			// A C resolver might read it as an address, DNS would not find it as a name:
			// refuse rather than guess.
			return "", netip.Addr{}, "looks like an IPv4 address but is not a valid one"
		}
		return "", a, ""
	}
	if r := checkName(ascii); r != "" {
		return "", netip.Addr{}, r
	}
	return ascii, netip.Addr{}, ""
}

func parseIPv6Literal(s string) (string, netip.Addr, string) {
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") || len(s) < 3 {
			return "", netip.Addr{}, "unbalanced brackets"
		}
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", netip.Addr{}, "not a valid IP address"
	}
	if a.Zone() != "" {
		return "", netip.Addr{}, "zone identifiers are not allowed"
	}
	return "", a.Unmap(), ""
}

// endsInNumber reports whether the last label of s (without trailing dot) is a number
// the way the WHATWG URL standard and inet_aton see one: decimal digits, or "0x" and
// hex digits. Such a host is parsed as IPv4, never looked up as a name.
func endsInNumber(s string) bool {
	last := s
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		last = s[i+1:]
	}
	if last == "" {
		return false
	}
	if allDigits(last, 10) {
		return true
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		return last == "0x" || last == "0X" || allDigits(last[2:], 16)
	}
	return false
}

// parseIPv4Loose parses IPv4 as inet_aton does: one to four parts separated by dots,
// each decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes
// (127.1 is 127.0.0.1, 2130706433 is 127.0.0.1).
func parseIPv4Loose(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, p := range parts {
		v, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(parts)
	for i := 0; i < n-1; i++ {
		if vals[i] > 0xff {
			return netip.Addr{}, false
		}
	}
	last := vals[n-1]
	if last >= 1<<(8*(5-n)) {
		return netip.Addr{}, false
	}
	var u uint32
	for i := 0; i < n-1; i++ {
		u |= uint32(vals[i]) << (8 * (3 - i))
	}
	u |= uint32(last)
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}), true
}

func parseIPv4Part(p string) (uint64, bool) {
	base := uint64(10)
	switch {
	case p == "":
		return 0, false
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, false
		}
	case len(p) >= 2 && p[0] == '0':
		base, p = 8, p[1:]
	}
	var v uint64
	for i := 0; i < len(p); i++ {
		d, ok := digitValue(p[i])
		if !ok || d >= base {
			return 0, false
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, false
		}
	}
	return v, true
}

func digitValue(c byte) (uint64, bool) {
	switch {
	case '0' <= c && c <= '9':
		return uint64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

func allDigits(s string, base uint64) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		d, ok := digitValue(s[i])
		if !ok || d >= base {
			return false
		}
	}
	return true
}

// checkName validates a lower-case ASCII name: at most 253 bytes, labels of 1 to 63
// letters, digits, '-' or '_', no label starting or ending with '-', and punycode
// labels ("xn--") that decode to a valid IDN.
func checkName(s string) string {
	if s == "" {
		return "empty host"
	}
	if len(s) > 253 {
		return "name longer than 253 bytes"
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return "empty label"
		}
		if len(label) > 63 {
			return "label longer than 63 bytes"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "only letters, digits, '-', '_' and '.' are allowed in a name"
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a label may not start or end with '-'"
		}
		if strings.HasPrefix(label, "xn--") {
			if _, err := idna.Lookup.ToUnicode(label); err != nil {
				return "invalid punycode label"
			}
		}
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// displayHost is host as it may appear in a message: printable ASCII up to 255 bytes
// as it is, anything else quoted and cut short.
func displayHost(host string) string {
	printable := len(host) <= 255
	for i := 0; printable && i < len(host); i++ {
		if host[i] < 0x21 || host[i] >= 0x7f || host[i] == '"' {
			printable = false
		}
	}
	if printable && host != "" {
		return host
	}
	if len(host) > 64 {
		host = host[:64] + "..."
	}
	return strconv.QuoteToASCII(host)
}
