package audit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/audit"
)

func sampleCanonical() audit.Canonical {
	return audit.Canonical{
		EventID:    "0b5c7a52-6b1e-4f0e-9a7c-1f2d3e4c5b6a",
		EventTime:  1741964966535,
		ActionName: "useConnection",
		Principal:  "alice@example.com",
		SourceIP:   "192.0.2.7",
		RequestID:  "req-1",
		Connection: "github",
		Params:     map[string]string{"path": "/v1/items", "method": "GET", "ü": "✓"},
		StatusCode: 403,
		ErrorCode:  "PERMISSION_DENIED",
		Decision:   "DENY",
	}
}

// TestHashOfGolden pins the canonical encoding: the value was computed by an
// independent implementation of HashOf's documented format (Python's hashlib and
// struct). A change here breaks the verification of every stored log.
func TestHashOfGolden(t *testing.T) {
	const want = "df8d6c203c2c7fa01b6895cbd8345e6de8a12467fe3a9f699984914da8f23227"
	if got := audit.HashOf(audit.Genesis, sampleCanonical()); got != want {
		t.Errorf("HashOf(Genesis, sample) = %s, want %s", got, want)
	}
}

func TestHashOfCoversEveryField(t *testing.T) {
	base := audit.HashOf(audit.Genesis, sampleCanonical())
	tests := []struct {
		name   string
		change func(c *audit.Canonical)
	}{
		{"event_id", func(c *audit.Canonical) { c.EventID += "x" }},
		{"event_time", func(c *audit.Canonical) { c.EventTime++ }},
		{"action_name", func(c *audit.Canonical) { c.ActionName = "createConnection" }},
		{"principal", func(c *audit.Canonical) { c.Principal = "bob@example.com" }},
		{"source_ip", func(c *audit.Canonical) { c.SourceIP = "192.0.2.8" }},
		{"request_id", func(c *audit.Canonical) { c.RequestID = "req-2" }},
		{"connection", func(c *audit.Canonical) { c.Connection = "" }},
		{"param value", func(c *audit.Canonical) {
			c.Params = map[string]string{"path": "/v1/other", "method": "GET", "ü": "✓"}
		}},
		{"param key", func(c *audit.Canonical) {
			c.Params = map[string]string{"Path": "/v1/items", "method": "GET", "ü": "✓"}
		}},
		{"param added", func(c *audit.Canonical) {
			c.Params = map[string]string{"path": "/v1/items", "method": "GET", "ü": "✓", "x": ""}
		}},
		{"param removed", func(c *audit.Canonical) { c.Params = map[string]string{"path": "/v1/items", "method": "GET"} }},
		{"status_code", func(c *audit.Canonical) { c.StatusCode = 200 }},
		{"error_code", func(c *audit.Canonical) { c.ErrorCode = "" }},
		{"decision", func(c *audit.Canonical) { c.Decision = "ALLOW" }},
		// Without lengths, these would encode the same bytes as the sample.
		{"bytes moved between fields", func(c *audit.Canonical) { c.Principal, c.SourceIP = "alice@example.com1", "92.0.2.7" }},
		{"bytes moved between key and value", func(c *audit.Canonical) {
			c.Params = map[string]string{"path/": "v1/items", "method": "GET", "ü": "✓"}
		}},
	}
	for _, tt := range tests {
		c := sampleCanonical()
		tt.change(&c)
		if audit.HashOf(audit.Genesis, c) == base {
			t.Errorf("changing %s does not change the hash", tt.name)
		}
	}
	if audit.HashOf(strings.Repeat("1", 64), sampleCanonical()) == base {
		t.Errorf("changing prev_hash does not change the hash")
	}

	// What the API cannot tell apart must hash the same.
	a, b := sampleCanonical(), sampleCanonical()
	a.Params, b.Params = nil, map[string]string{}
	if audit.HashOf(audit.Genesis, a) != audit.HashOf(audit.Genesis, b) {
		t.Errorf("nil and empty params hash differently")
	}
}

// chain builds a valid chain of n links.
func chain(n int) []audit.Link {
	links := make([]audit.Link, n)
	prev := audit.Genesis
	for i := range links {
		c := sampleCanonical()
		c.EventID = strings.Repeat(string(rune('a'+i%26)), 8) + "-" + string(rune('0'+i%10))
		c.EventTime += int64(i)
		links[i] = audit.Link{Canonical: c, PrevHash: prev, Hash: audit.HashOf(prev, c)}
		prev = links[i].Hash
	}
	return links
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name      string
		edit      func(l []audit.Link) []audit.Link
		wantIndex int // -1: intact
		wantWhy   string
	}{
		{"intact", func(l []audit.Link) []audit.Link { return l }, -1, ""},
		{"empty", func(l []audit.Link) []audit.Link { return nil }, -1, ""},
		{"field changed", func(l []audit.Link) []audit.Link { l[2].Principal = "mallory"; return l }, 2, "changed"},
		{"param changed", func(l []audit.Link) []audit.Link {
			l[3].Params = map[string]string{"path": "/admin"}
			return l
		}, 3, "changed"},
		{"field changed and hash recomputed", func(l []audit.Link) []audit.Link {
			l[2].Decision = "ALLOW"
			l[2].Hash = audit.HashOf(l[2].PrevHash, l[2].Canonical)
			return l
		}, 3, "removed, inserted or reordered"},
		{"middle removed", func(l []audit.Link) []audit.Link { return append(l[:2], l[3:]...) }, 2, "removed"},
		{"first removed", func(l []audit.Link) []audit.Link { return l[1:] }, 0, "genesis"},
		{"two swapped", func(l []audit.Link) []audit.Link { l[1], l[2] = l[2], l[1]; return l }, 1, "reordered"},
		{"event inserted", func(l []audit.Link) []audit.Link {
			return append(l[:2], append([]audit.Link{l[0]}, l[2:]...)...)
		}, 2, "inserted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			links := tt.edit(chain(5))
			n, err := audit.Verify(links)
			if tt.wantIndex < 0 {
				if err != nil || n != len(links) {
					t.Fatalf("Verify = %d, %v; want %d, nil", n, err, len(links))
				}
				return
			}
			var ce *audit.ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("Verify = %d, %v; want a *ChainError at %d", n, err, tt.wantIndex)
			}
			if n != tt.wantIndex || ce.Index != tt.wantIndex || ce.EventID != links[tt.wantIndex].EventID {
				t.Errorf("Verify = %d, %+v; want the break at %d (event %s)", n, ce, tt.wantIndex, links[tt.wantIndex].EventID)
			}
			if !strings.Contains(err.Error(), tt.wantWhy) || !strings.Contains(err.Error(), ce.EventID) {
				t.Errorf("error %q should say %q and name the event", err, tt.wantWhy)
			}
		})
	}
}

func TestVerifyFromPages(t *testing.T) {
	links := chain(10)
	prev := audit.Genesis
	for _, page := range [][]audit.Link{links[:3], links[3:7], links[7:]} {
		n, err := audit.VerifyFrom(prev, page)
		if err != nil || n != len(page) {
			t.Fatalf("VerifyFrom = %d, %v", n, err)
		}
		prev = page[len(page)-1].Hash
	}
	// A page that does not follow the previous one is a break at its first event.
	if n, err := audit.VerifyFrom(links[2].Hash, links[4:]); err == nil || n != 0 {
		t.Errorf("VerifyFrom across a gap = %d, %v; want a break at 0", n, err)
	}
}

func TestHMAC(t *testing.T) {
	// RFC 4231, test case 2.
	got := audit.HMAC([]byte("Jefe"), "what do ya want for nothing?")
	want := "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("HMAC = %s, want %s", got, want)
	}
	if audit.HMAC([]byte("other key"), "what do ya want for nothing?") == got {
		t.Errorf("HMAC does not depend on the key")
	}
}
