// Command revokelat measures how long a revoke made on one Gatehouse replica takes to
// be refused on another: it creates a user with a token and a bearer connection to the
// upstream, then N times grants USE_CONNECTION on replica A, waits until replica B
// serves the call, removes the grant on A and, from the moment A has answered, calls
// through B back to back until B refuses (403). It prints the percentiles of that
// revoke latency, and of the grant's (for scale).
//
// It talks HTTP to the replicas' API with the admin token from GATEHOUSE_TOKEN; it
// needs nothing of Gatehouse's code.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"
)

func main() {
	a := flag.String("a", "", "URL of replica A (where the revokes are made)")
	b := flag.String("b", "", "URL of replica B (where the refusal is awaited)")
	upstream := flag.String("upstream", "", "upstream URL of the bearer connection")
	n := flag.Int("n", 200, "how many revokes")
	name := flag.String("name", "revokelat", "name of the user and connection to create")
	flag.Parse()
	admin := os.Getenv("GATEHOUSE_TOKEN")
	if *a == "" || *b == "" || *upstream == "" || admin == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "usage: GATEHOUSE_TOKEN=ADMIN revokelat -a URL -b URL -upstream URL [-n N]")
		os.Exit(2)
	}
	if err := run(*a, *b, *upstream, admin, *name, *n); err != nil {
		fmt.Fprintln(os.Stderr, "revokelat:", err)
		os.Exit(1)
	}
}

var hc = &http.Client{Timeout: 10 * time.Second}

func call(method, url, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

func must(method, url, token string, body, out any) error {
	status, b, err := call(method, url, token, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s = %d %s", method, url, status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// waitStatus calls through B until it answers want, at most 5 s, and returns how long
// it took from since.
func waitStatus(url, token string, want int, since time.Time) (time.Duration, error) {
	for {
		status, b, err := call("GET", url, token, nil)
		if err != nil {
			return 0, err
		}
		if status == want {
			return time.Since(since), nil
		}
		if status != 200 && status != 403 {
			return 0, fmt.Errorf("call through B = %d %s", status, b)
		}
		if time.Since(since) > 5*time.Second {
			return 0, fmt.Errorf("B still answers %d 5s later, want %d", status, want)
		}
	}
}

func run(a, b, upstream, admin, name string, n int) error {
	if err := must("POST", a+"/api/2.0/preview/scim/v2/Users", admin, map[string]any{"userName": name}, nil); err != nil {
		return err
	}
	var tok struct {
		TokenValue string `json:"token_value"`
	}
	if err := must("POST", a+"/api/2.0/token-management/on-behalf-of/tokens", admin, map[string]any{"user_name": name}, &tok); err != nil {
		return err
	}
	if err := must("POST", a+"/api/2.1/unity-catalog/connections", admin, map[string]any{"name": name,
		"options": map[string]string{"host": upstream, "bearer_token": "revokelat-token"}}, nil); err != nil {
		return err
	}
	perms := a + "/api/2.1/unity-catalog/permissions/connection/" + name
	through := b + "/api/2.0/unity-catalog/connections/" + name + "/proxy/x"
	var revokes, grants []time.Duration
	for i := 0; i < n; i++ {
		if err := must("PATCH", perms, admin, map[string]any{"changes": []map[string]any{{"principal": name, "add": []string{"USE_CONNECTION"}}}}, nil); err != nil {
			return err
		}
		d, err := waitStatus(through, tok.TokenValue, 200, time.Now())
		if err != nil {
			return fmt.Errorf("grant %d: %w", i, err)
		}
		grants = append(grants, d)
		if err := must("PATCH", perms, admin, map[string]any{"changes": []map[string]any{{"principal": name, "remove": []string{"USE_CONNECTION"}}}}, nil); err != nil {
			return err
		}
		d, err = waitStatus(through, tok.TokenValue, 403, time.Now())
		if err != nil {
			return fmt.Errorf("revoke %d: %w", i, err)
		}
		revokes = append(revokes, d)
	}
	if len(revokes) == 0 {
		return errors.New("nothing measured")
	}
	fmt.Printf("revoke A->B over %d revokes: p50 %s p99 %s max %s\n", n, pct(revokes, 50), pct(revokes, 99), pct(revokes, 100))
	fmt.Printf("grant  A->B over %d grants:  p50 %s p99 %s max %s\n", n, pct(grants, 50), pct(grants, 99), pct(grants, 100))
	return nil
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p+99)/100 - 1
	i = max(0, min(i, len(s)-1))
	return s[i].Round(10 * time.Microsecond).String()
}
