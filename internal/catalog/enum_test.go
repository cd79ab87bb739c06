package catalog

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOneOf(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		valid   []string
		wantErr bool
		wantMsg []string
	}{
		{"empty is no filter", "", AuditActions(), false, nil},
		{"valid action", ActionUseConnection, AuditActions(), false, nil},
		{"egress tunnel is an action", "egressTunnel", AuditActions(), false, nil},
		{"network policy change is an action", "updateNetworkPolicy", AuditActions(), false, nil},
		{"chain anchor is an action", "auditChainKeyed", AuditActions(), false, nil},
		{"wrong case is refused with the right one", "egresstunnel", AuditActions(), true, []string{`"egresstunnel" is not valid`, `did you mean "egressTunnel"?`, "egressTunnel, tokenCreate"}},
		{"typo names the closest", "useConection", AuditActions(), true, []string{`did you mean "useConnection"?`}},
		{"far off names none", "delete", AuditActions(), true, []string{"valid values: createConnection, "}},
		{"source", "proxyy", NetworkSources(), true, []string{`did you mean "proxy"?`, "proxy, oauth, egress"}},
		{"access type", "DRY_RUN", NetworkAccessTypes(), true, []string{"DROP, DRY_RUN_DENIAL"}},
		{"long value is cut", strings.Repeat("x", 500), AuditActions(), true, []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := OneOf("action", tt.value, tt.valid)
			if (err != nil) != tt.wantErr {
				t.Fatalf("OneOf(%q) = %v, want error %v", tt.value, err, tt.wantErr)
			}
			if err == nil {
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Code != InvalidParameterValue {
				t.Errorf("error %v is not INVALID_PARAMETER_VALUE", err)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(tt.name, "far off") && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("error %q suggests a name for a value far from all", err)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestAuditActionsDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range AuditActions() {
		if seen[a] || a == "" {
			t.Errorf("action %q listed twice or empty", a)
		}
		seen[a] = true
	}
}

func TestClosest(t *testing.T) {
	opts := []string{"host", "base_path", "bearer_token", "client_id", "client_secret"}
	tests := []struct {
		name, in, want string
	}{
		{"transposition", "hots", "host"},
		{"missing letter", "hst", "host"},
		{"case", "HOST", "host"},
		{"two edits on a long name", "bearer_tokn_", "bearer_token"},
		{"too far", "token", ""},
		{"short and far", "ab", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Closest(tt.in, opts); got != tt.want {
				t.Errorf("Closest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzOneOf: any value gives nil or a bounded, valid-UTF-8 error, and a suggestion is
// always one of the candidates.
func FuzzOneOf(f *testing.F) {
	for _, s := range []string{"", "hots", "egresstunnel", "\xff\xfe", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		err := OneOf("action", v, AuditActions())
		if err != nil && (len(err.Error()) > 1000 || !utf8.ValidString(err.Error())) {
			t.Fatalf("error %q: too long or not UTF-8", err)
		}
		if c := Closest(v, AuditActions()); c != "" {
			found := false
			for _, a := range AuditActions() {
				found = found || a == c
			}
			if !found {
				t.Fatalf("Closest(%q) = %q, not a candidate", v, c)
			}
		}
	})
}

func TestCheckOptionNames(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		wantMsg []string // nil: no error
	}{
		{"every known name", map[string]string{"host": "h", "bearer_token": "t", "authorization_endpoint": "a", "oauth_scope": "s"}, nil},
		{"none", nil, nil},
		{"transposed host", map[string]string{"hots": "https://api.example.com", "bearer_token": "t"}, []string{"options.hots: not an option of any credential type", `did you mean "host"?`, "base_path, bearer_token"}},
		{"typo of a secret option", map[string]string{"host": "h", "bearer_tokne": "t"}, []string{`did you mean "bearer_token"?`}},
		{"far off names none", map[string]string{"colour": "blue"}, []string{"options.colour: not an option of any credential type (options: "}},
		{"first in name order", map[string]string{"zzz": "1", "aaa": "2"}, []string{"options.aaa:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckOptionNames(tt.opts)
			if (err != nil) != (tt.wantMsg != nil) {
				t.Fatalf("CheckOptionNames(%v) = %v, want error %v", tt.opts, err, tt.wantMsg != nil)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if err != nil && strings.Contains(tt.name, "far off") && strings.Contains(err.Error(), "did you mean") {
				t.Errorf("error %q suggests a name for a value far from all", err)
			}
			for _, v := range tt.opts {
				if err != nil && len(v) > 1 && strings.Contains(err.Error(), v) {
					t.Errorf("error %q repeats an option value", err)
				}
			}
		})
	}
}

// FuzzCheckOptionNames: any option name gives nil or a bounded, valid-UTF-8 error that
// never contains the option's value.
func FuzzCheckOptionNames(f *testing.F) {
	for _, s := range []string{"hots", "host", "bearer_tokne", "\xff", strings.Repeat("k", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		const canary = "CANARY-value-7f3a"
		err := CheckOptionNames(map[string]string{k: canary})
		if err == nil {
			return
		}
		if len(err.Error()) > 2000 || strings.Contains(err.Error(), canary) {
			t.Fatalf("error %q: too long or names the value", err)
		}
	})
}
