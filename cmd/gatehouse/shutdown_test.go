package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGracefulShutdownFinishesInFlightRequests starts a request whose body is still
// arriving, stops the server (as SIGTERM does, through the context), and checks that the
// request still completes and that run returns cleanly once it has.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	ts := startServer(t, "", nil)
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", ts.URL+"/api/2.1/unity-catalog/connections", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.Admin)
	req.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   string
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- result{status: resp.StatusCode, body: string(b)}
	}()
	if _, err := io.WriteString(pw, `{"name": "slow", "options": {"host": "https://api.example.com", `); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is now in the handler, reading its body
	ts.stop()                          // SIGTERM
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-ts.done:
		t.Fatalf("server stopped with a request in flight: %v", err)
	default:
	}
	// New connections are refused while draining.
	if _, err := http.Get(ts.URL + "/healthz"); err == nil {
		t.Errorf("a new request was accepted during shutdown")
	}
	if _, err := io.WriteString(pw, `"bearer_token": "t"}}`); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	r := <-got
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"name":"slow"`) {
		t.Fatalf("in-flight request = %d %q %v; want it to finish with 200", r.status, r.body, r.err)
	}
	select {
	case err := <-ts.done:
		ts.done = nil
		if err != nil {
			t.Fatalf("run returned %v after a graceful shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after the last request finished")
	}
}
