package credential

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const testTTL = 10 * time.Minute

func pending(clock *fakeClock, session, principal string) PendingLogin {
	return PendingLogin{SessionHash: sha256.Sum256([]byte(session)), ConnectionID: "c1", Connection: "github",
		PrincipalID: principal, Verifier: "verifier-" + session, Expires: clock.Now().Add(testTTL)}
}

func mustPut(t testing.TB, m *MemoryPendingLogins, state string, l PendingLogin) {
	t.Helper()
	if err := m.Put(context.Background(), state, l); err != nil {
		t.Fatalf("Put(%s) = %v", state, err)
	}
}

// has reports whether the state is still held, without taking it.
func (m *MemoryPendingLogins) has(state string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.byState[sha256.Sum256([]byte(state))]
	return ok
}

func TestMemoryPendingLoginsTake(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(m *MemoryPendingLogins, clock *fakeClock)
		state   string
		wantOK  bool
	}{
		{"known state", func(m *MemoryPendingLogins, c *fakeClock) { mustPut(t, m, "s1", pending(c, "sess", "alice")) }, "s1", true},
		{"unknown state", func(m *MemoryPendingLogins, c *fakeClock) { mustPut(t, m, "s1", pending(c, "sess", "alice")) }, "s2", false},
		{"empty state", func(m *MemoryPendingLogins, c *fakeClock) { mustPut(t, m, "s1", pending(c, "sess", "alice")) }, "", false},
		{"already taken", func(m *MemoryPendingLogins, c *fakeClock) {
			mustPut(t, m, "s1", pending(c, "sess", "alice"))
			if _, ok, _ := m.Take(ctx, "s1"); !ok {
				t.Fatal("first Take(s1) = not found")
			}
		}, "s1", false},
		{"just before expiry", func(m *MemoryPendingLogins, c *fakeClock) {
			mustPut(t, m, "s1", pending(c, "sess", "alice"))
			c.Advance(testTTL)
		}, "s1", true},
		{"expired", func(m *MemoryPendingLogins, c *fakeClock) {
			mustPut(t, m, "s1", pending(c, "sess", "alice"))
			c.Advance(testTTL + time.Second)
		}, "s1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			m := NewMemoryPendingLogins(PendingOptions{Now: clock.Now})
			tt.prepare(m, clock)
			got, ok, err := m.Take(ctx, tt.state)
			if err != nil {
				t.Fatalf("Take(%q) error %v", tt.state, err)
			}
			if ok != tt.wantOK {
				t.Fatalf("Take(%q) ok = %v, want %v", tt.state, ok, tt.wantOK)
			}
			if ok && (got.PrincipalID != "alice" || got.Verifier != "verifier-sess" || got.SessionHash != sha256.Sum256([]byte("sess"))) {
				t.Errorf("Take(%q) = %#v (verifier %q), want alice's login of session sess", tt.state, got, got.Verifier)
			}
			// Whatever the outcome, the state is gone: it works at most once.
			if m.has(tt.state) {
				t.Errorf("state %q still held after Take", tt.state)
			}
			if _, again, _ := m.Take(ctx, tt.state); again {
				t.Errorf("second Take(%q) found it again", tt.state)
			}
		})
	}
}

// TestMemoryPendingLoginsExpiryWithoutScan checks that expired logins go from the front
// of the creation-order list on the next operation, and that only the expired ones are
// visited: a live login at the front stops the walk.
func TestMemoryPendingLoginsExpiryWithoutScan(t *testing.T) {
	clock := newFakeClock()
	m := NewMemoryPendingLogins(PendingOptions{Now: clock.Now})
	for i := range 100 {
		mustPut(t, m, fmt.Sprintf("old%d", i), pending(clock, fmt.Sprintf("sess%d", i), fmt.Sprintf("p%d", i)))
	}
	clock.Advance(testTTL / 2)
	for i := range 10 {
		mustPut(t, m, fmt.Sprintf("new%d", i), pending(clock, fmt.Sprintf("sess%d", i), fmt.Sprintf("p%d", i)))
	}
	if got := m.Len(); got != 110 {
		t.Fatalf("Len = %d, want 110", got)
	}
	clock.Advance(testTTL/2 + time.Second) // the 100 old ones expire, the 10 new ones live
	if _, ok, _ := m.Take(context.Background(), "nothing"); ok {
		t.Fatal("Take(nothing) found a login")
	}
	if got := m.Len(); got != 10 {
		t.Errorf("Len after expiry = %d, want 10 (the expired 100 dropped by one Take)", got)
	}
	if len(m.bySession) != 10 || len(m.byPrincipal) != 10 {
		t.Errorf("index sizes: %d sessions, %d principals; want 10 and 10 (no empty lists kept)", len(m.bySession), len(m.byPrincipal))
	}
	for i := range 10 {
		if !m.has(fmt.Sprintf("new%d", i)) {
			t.Errorf("live login new%d dropped", i)
		}
	}
	clock.Advance(testTTL)
	mustPut(t, m, "last", pending(clock, "s", "p"))
	if got := m.Len(); got != 1 {
		t.Errorf("Len after all expired and one Put = %d, want 1", got)
	}
}

func TestMemoryPendingLoginsBounds(t *testing.T) {
	const perSession, perPrincipal, total = 3, 5, 8
	type put struct{ state, session, principal string }
	tests := []struct {
		name     string
		puts     []put
		gone     []string
		kept     []string
		wantWarn bool
	}{
		{
			name: "per session: the session's oldest goes, another session's stays",
			puts: []put{{"a1", "A", "alice"}, {"b1", "B", "alice"}, {"a2", "A", "alice"}, {"a3", "A", "alice"}, {"a4", "A", "alice"}},
			gone: []string{"a1"},
			kept: []string{"b1", "a2", "a3", "a4"},
		},
		{
			name: "per principal across sessions: the principal's oldest goes, another principal's stays",
			puts: []put{{"x", "X", "bob"}, {"a1", "A", "alice"}, {"b1", "B", "alice"}, {"c1", "C", "alice"}, {"d1", "D", "alice"}, {"e1", "E", "alice"}, {"f1", "F", "alice"}},
			gone: []string{"a1"},
			kept: []string{"x", "b1", "c1", "d1", "e1", "f1"},
		},
		{
			name:     "total: the oldest of all goes",
			puts:     []put{{"1", "S1", "p1"}, {"2", "S2", "p2"}, {"3", "S3", "p3"}, {"4", "S4", "p4"}, {"5", "S5", "p5"}, {"6", "S6", "p6"}, {"7", "S7", "p7"}, {"8", "S8", "p8"}, {"9", "S9", "p9"}, {"10", "S10", "p10"}},
			gone:     []string{"1", "2"},
			kept:     []string{"3", "4", "5", "6", "7", "8", "9", "10"},
			wantWarn: true,
		},
		{
			name: "the same state put twice keeps one login",
			puts: []put{{"s", "A", "alice"}, {"s", "B", "bob"}},
			kept: []string{"s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			var log bytes.Buffer
			m := NewMemoryPendingLogins(PendingOptions{MaxTotal: total, MaxPerSession: perSession, MaxPerPrincipal: perPrincipal,
				Now: clock.Now, Log: slog.New(slog.NewTextHandler(&log, nil))})
			for _, p := range tt.puts {
				mustPut(t, m, p.state, pending(clock, p.session, p.principal))
				clock.Advance(time.Millisecond)
			}
			for _, s := range tt.gone {
				if m.has(s) {
					t.Errorf("login %s kept, want evicted", s)
				}
			}
			for _, s := range tt.kept {
				if !m.has(s) {
					t.Errorf("login %s evicted, want kept", s)
				}
			}
			if got, want := m.Len(), len(tt.kept); got != want {
				t.Errorf("Len = %d, want %d", got, want)
			}
			warned := strings.Count(log.String(), "pending OAuth logins at the limit")
			if tt.wantWarn && warned != 1 {
				t.Errorf("limit warnings = %d, want exactly 1 (once a minute), log:\n%s", warned, log.String())
			}
			if !tt.wantWarn && warned != 0 {
				t.Errorf("limit warnings = %d, want none", warned)
			}
			if strings.Contains(log.String(), "verifier-") {
				t.Errorf("log holds a PKCE verifier:\n%s", log.String())
			}
		})
	}
}

func TestMemoryPendingLoginsConcurrent(t *testing.T) {
	clock := newFakeClock()
	m := NewMemoryPendingLogins(PendingOptions{MaxTotal: 500, MaxPerSession: 4, MaxPerPrincipal: 8, Now: clock.Now})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	taken := map[string]int{}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				state := fmt.Sprintf("w%d-%d", w, i)
				if err := m.Put(context.Background(), state, pending(clock, fmt.Sprintf("sess%d-%d", w, i%7), fmt.Sprintf("p%d", w%3))); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				// Every worker also tries to take the states of its neighbour.
				for _, s := range []string{state, fmt.Sprintf("w%d-%d", (w+1)%workers, i)} {
					if _, ok, _ := m.Take(context.Background(), s); ok {
						mu.Lock()
						taken[s]++
						mu.Unlock()
					}
				}
				if i%50 == 0 {
					clock.Advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	for s, n := range taken {
		if n != 1 {
			t.Errorf("state %s taken %d times, want once", s, n)
		}
	}
	if m.Len() > 500 {
		t.Errorf("Len = %d, over the total bound 500", m.Len())
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.byState); n != m.all.n {
		t.Errorf("index holds %d, list %d", n, m.all.n)
	}
}

func TestPendingLoginFormatHidesVerifier(t *testing.T) {
	l := PendingLogin{Connection: "github", PrincipalID: "alice", Verifier: "the-pkce-verifier-canary"}
	var log bytes.Buffer
	slog.New(slog.NewTextHandler(&log, nil)).Info("x", "login", l)
	for _, s := range []string{fmt.Sprint(l), fmt.Sprintf("%v %+v %#v %s", l, l, l, l), fmt.Sprint(&l), log.String()} {
		if strings.Contains(s, "canary") {
			t.Errorf("formatted login holds the verifier: %s", s)
		}
	}
}

// FuzzMemoryPendingLogins runs a sequence of operations read from the input against
// the store and a plain model of it, and checks that they agree and that the bounds
// hold after every step.
func FuzzMemoryPendingLogins(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{0x10, 0x11, 0x12, 0x13, 0x14, 0x90, 0x91, 0x40, 0x41, 0xf0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const perSession, perPrincipal, total = 2, 3, 5
		clock := newFakeClock()
		m := NewMemoryPendingLogins(PendingOptions{MaxTotal: total, MaxPerSession: perSession, MaxPerPrincipal: perPrincipal, Now: clock.Now})
		type entry struct {
			state, session, principal string
			expires                   time.Time
		}
		var model []entry // in creation order
		drop := func(i int) { model = append(model[:i], model[i+1:]...) }
		for i, op := range ops {
			if i > 200 {
				break
			}
			state := fmt.Sprintf("s%d", op&0x0f)
			switch op >> 6 {
			case 0, 1: // put
				now := clock.Now()
				for len(model) > 0 && now.After(model[0].expires) {
					drop(0)
				}
				for j, e := range model {
					if e.state == state {
						drop(j)
						break
					}
				}
				sess, prin := fmt.Sprintf("S%d", (op>>4)&3), fmt.Sprintf("P%d", (op>>5)&1)
				for _, bound := range []struct {
					n     int
					match func(entry) bool
				}{
					{perSession, func(e entry) bool { return e.session == sess }},
					{perPrincipal, func(e entry) bool { return e.principal == prin }},
					{total, func(entry) bool { return true }},
				} {
					n, first := 0, -1
					for j, e := range model {
						if bound.match(e) {
							if first < 0 {
								first = j
							}
							n++
						}
					}
					if n >= bound.n {
						drop(first)
					}
				}
				l := pending(clock, sess, prin)
				model = append(model, entry{state, sess, prin, l.Expires})
				if err := m.Put(context.Background(), state, l); err != nil {
					t.Fatal(err)
				}
			case 2: // take
				now := clock.Now()
				for len(model) > 0 && now.After(model[0].expires) {
					drop(0)
				}
				want := false
				for j, e := range model {
					if e.state == state {
						want = true
						drop(j)
						break
					}
				}
				_, got, err := m.Take(context.Background(), state)
				if err != nil || got != want {
					t.Fatalf("step %d: Take(%s) = %v, %v; model says %v", i, state, got, err, want)
				}
			case 3: // time passes
				clock.Advance(time.Duration(op&0x3f) * testTTL / 16)
			}
			if m.Len() != len(model) {
				t.Fatalf("step %d: Len = %d, model %d", i, m.Len(), len(model))
			}
		}
	})
}
