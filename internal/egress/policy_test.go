package egress

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func TestNormalizePolicy(t *testing.T) {
	tests := []struct {
		name    string
		in      *catalog.NetworkPolicy
		want    *catalog.NetworkPolicy
		wantErr []string // parts of the error message
	}{
		{
			name: "nil is the zero policy",
			in:   nil,
			want: &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced},
		},
		{
			name: "empty modes take the defaults",
			in:   &catalog.NetworkPolicy{Version: 3, UpdatedBy: "admin"},
			want: &catalog.NetworkPolicy{Version: 3, UpdatedBy: "admin", RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced},
		},
		{
			name:    "unknown restriction mode",
			in:      &catalog.NetworkPolicy{RestrictionMode: "full_access"},
			wantErr: []string{"restriction_mode", "FULL_ACCESS", "RESTRICTED_ACCESS", `"full_access"`},
		},
		{
			name:    "unknown enforcement mode",
			in:      &catalog.NetworkPolicy{EnforcementMode: "AUDIT"},
			wantErr: []string{"enforcement_mode", `"AUDIT"`},
		},
		{
			name: "destinations normalized, deduplicated and sorted",
			in: &catalog.NetworkPolicy{
				RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.DryRun,
				AllowedDestinations: []string{"Bücher.Example.", "API.GitHub.com", "*.Partner.Test.", "api.github.com.", " b.example "},
				BlockedDestinations: []string{"*.com", "Evil.Example"},
				AllowedIPRanges:     []string{"10.1.2.3/8", "10.0.0.0/8", "192.168.1.7", "::1", "::ffff:127.0.0.0/104", "fd00::5/8"},
			},
			want: &catalog.NetworkPolicy{
				RestrictionMode: catalog.RestrictedAccess, EnforcementMode: catalog.DryRun,
				AllowedDestinations: []string{"*.partner.test", "api.github.com", "b.example", "xn--bcher-kva.example"},
				BlockedDestinations: []string{"*.com", "evil.example"},
				AllowedIPRanges:     []string{"10.0.0.0/8", "127.0.0.0/8", "192.168.1.7/32", "::1/128", "fd00::/8"},
			},
		},
		{name: "public suffix *.com", in: allowed("*.com"), wantErr: []string{"allowed_internet_destinations[0]", "*.com", "public suffix"}},
		{name: "public suffix *.co.uk", in: allowed("ok.example", "*.co.uk"), wantErr: []string{"allowed_internet_destinations[1]", "*.co.uk", "public suffix"}},
		{name: "public suffix *.github.io", in: allowed("*.github.io"), wantErr: []string{"public suffix"}},
		{name: "public suffix *.CO.UK.", in: allowed("*.CO.UK."), wantErr: []string{"public suffix"}},
		{name: "unknown TLD is a public suffix", in: allowed("*.test"), wantErr: []string{"public suffix"}},
		{name: "IP literal", in: allowed("127.0.0.1"), wantErr: []string{"allowed_internet_destinations[0]", "allowed_ip_ranges"}},
		{name: "odd IP literal", in: allowed("0x7f.1"), wantErr: []string{"allowed_ip_ranges"}},
		{name: "IPv6 literal", in: allowed("[::1]"), wantErr: []string{"allowed_ip_ranges"}},
		{name: "IP wildcard", in: allowed("*.1.2.3"), wantErr: []string{"allowed_ip_ranges"}},
		{name: "blocked IP literal", in: &catalog.NetworkPolicy{BlockedDestinations: []string{"10.0.0.1"}}, wantErr: []string{"blocked_internet_destinations[0]"}},
		{name: "inner wildcard", in: allowed("a.*.example.com"), wantErr: []string{"wildcard"}},
		{name: "double wildcard", in: allowed("*.*.example.com"), wantErr: []string{"wildcard"}},
		{name: "bare star", in: allowed("*"), wantErr: []string{"wildcard"}},
		{name: "star without dot", in: allowed("*example.com"), wantErr: []string{"wildcard"}},
		{name: "empty entry", in: allowed(""), wantErr: []string{"allowed_internet_destinations[0]"}},
		{name: "empty wildcard", in: allowed("*."), wantErr: []string{"allowed_internet_destinations[0]"}},
		{name: "URL", in: allowed("https://api.example.com"), wantErr: []string{"allowed_internet_destinations[0]"}},
		{name: "host and port", in: allowed("api.example.com:443"), wantErr: []string{"allowed_internet_destinations[0]"}},
		{name: "bad range", in: ranges("10.0.0.0/33"), wantErr: []string{"allowed_ip_ranges[0]"}},
		{name: "odd IP form in range", in: ranges("127.1/8"), wantErr: []string{"allowed_ip_ranges[0]"}},
		{name: "zone in range", in: ranges("fe80::1%eth0"), wantErr: []string{"allowed_ip_ranges[0]"}},
		{name: "name in range", in: ranges("10.0.0.0/8", "example.com"), wantErr: []string{"allowed_ip_ranges[1]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NormalizePolicy(tt.in)
			if tt.wantErr != nil {
				if catalog.CodeOf(err) != catalog.InvalidParameterValue {
					t.Fatalf("NormalizePolicy = %+v, %v; want INVALID_PARAMETER_VALUE", got, err)
				}
				for _, p := range tt.wantErr {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error %q does not contain %q", err, p)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizePolicy: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("NormalizePolicy (-want +got):\n%s", d)
			}
			again, err := NormalizePolicy(got)
			if err != nil {
				t.Fatalf("NormalizePolicy(normalized): %v", err)
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("NormalizePolicy is not idempotent (-first +second):\n%s", d)
			}
		})
	}
}

func TestNormalizePolicyDoesNotChangeInput(t *testing.T) {
	in := allowed("B.Example", "A.Example")
	if _, err := NormalizePolicy(in); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"B.Example", "A.Example"}, in.AllowedDestinations); d != "" {
		t.Errorf("input changed (-want +got):\n%s", d)
	}
}

// TestMatcher is the wildcard semantics of rule 2: "*.partner.test" matches names below
// partner.test, whole labels only, never partner.test itself.
func TestMatcher(t *testing.T) {
	var m matcher
	for _, p := range []string{"*.partner.test", "exact.example"} {
		m.add(p)
	}
	tests := []struct {
		name string
		want string
	}{
		{"a.partner.test", "*.partner.test"},
		{"a.b.partner.test", "*.partner.test"},
		{"partner.test", ""},
		{"evilpartner.test", ""},
		{"partner.test.evil", ""},
		{"a.partner.test.evil", ""},
		{"apartner.test", ""},
		{"test", ""},
		{"exact.example", "exact.example"},
		{"a.exact.example", ""},
		{"exact.example.evil", ""},
	}
	for _, tt := range tests {
		if got := m.match(tt.name); got != tt.want {
			t.Errorf("match(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestCompileFailsClosed: a policy stored without NormalizePolicy cannot widen access.
func TestCompileFailsClosed(t *testing.T) {
	r := compile(&catalog.NetworkPolicy{
		RestrictionMode:     "restricted", // unknown: treated as restricted
		AllowedDestinations: []string{"*.com", "127.0.0.1", "ok.example"},
		BlockedDestinations: []string{"Bad Host.example", "EVIL.example."},
		AllowedIPRanges:     []string{"nonsense", "10.0.0.0/8"},
	})
	if !r.restricted || r.dryRun {
		t.Errorf("restricted, dryRun = %v, %v; want true, false", r.restricted, r.dryRun)
	}
	if r.allowed.match("x.com") != "" || r.allowed.match("ok.example") == "" {
		t.Errorf("allowed matcher = %+v", r.allowed)
	}
	if r.blocked.match("evil.example") == "" {
		t.Errorf("blocked matcher lost a valid entry: %+v", r.blocked)
	}
	if len(r.ranges) != 1 {
		t.Errorf("ranges = %v, want only 10.0.0.0/8", r.ranges)
	}
}

func allowed(d ...string) *catalog.NetworkPolicy {
	return &catalog.NetworkPolicy{RestrictionMode: catalog.RestrictedAccess, AllowedDestinations: d}
}

func ranges(r ...string) *catalog.NetworkPolicy {
	return &catalog.NetworkPolicy{AllowedIPRanges: r}
}
