package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestForwardRelaysEventsOfAnySize: an event stream waits on a small buffer and takes a
// larger one while data flows. Whatever an event's size next to those buffers, it
// reaches the caller whole and at once: the upstream sends each event only after the
// caller has received the one before (lock-step), so an event the relay held back, or a
// read that waited for more data with some in hand, would stall the test.
func TestForwardRelaysEventsOfAnySize(t *testing.T) {
	sizes := map[string][]int{
		"small events":                   {20, 100, 300},
		"events the size of wait buffer": {eventWaitSize, eventWaitSize - 1, eventWaitSize + 1, eventWaitSize},
		"large events between small":     {50, 4 << 10, 50, 20 << 10, 50, 4<<10 + eventWaitSize, 16},
	}
	for name, want := range sizes {
		for _, h2 := range []bool{false, true} {
			proto := "HTTP/1.1"
			if h2 {
				proto = "HTTP/2"
			}
			t.Run(name+", upstream "+proto, func(t *testing.T) {
				next := make(chan struct{})
				up := startUpstream(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/event-stream")
					rc := http.NewResponseController(w)
					for i, n := range want {
						if i > 0 {
							select {
							case <-next:
							case <-r.Context().Done():
								return
							}
						}
						_, _ = io.WriteString(w, event(i, n))
						_ = rc.Flush()
					}
				}, h2)
				p := newTestProxy(t, Config{}, up)
				f := startFront(t, p, up.target(), false, nil)
				res, err := f.Client().Get(f.URL + "/proxy/events")
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				for i, n := range want {
					ev := event(i, n)
					got := make([]byte, len(ev))
					done := make(chan error, 1)
					go func() { _, err := io.ReadFull(res.Body, got); done <- err }()
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("event %d (%d bytes): %v", i, n, err)
						}
					case <-time.After(5 * time.Second):
						t.Fatalf("event %d (%d bytes) did not arrive whole: the relay held part of it back", i, n)
					}
					if !bytes.Equal(got, []byte(ev)) {
						t.Fatalf("event %d (%d bytes) arrived changed", i, n)
					}
					if i < len(want)-1 {
						next <- struct{}{}
					}
				}
				if rest, err := io.ReadAll(res.Body); err != nil || len(rest) != 0 {
					t.Errorf("after the last event: %d more bytes, %v", len(rest), err)
				}
				if r := f.result(t); r.err != nil {
					t.Errorf("Forward: %v", r.err)
				}
			})
		}
	}
}

// event is one server-sent event of exactly n bytes (n >= 12), numbered i.
func event(i, n int) string {
	head := fmt.Sprintf("id: %d\ndata: ", i%10)
	return head + strings.Repeat("x", n-len(head)-2) + "\n\n"
}
