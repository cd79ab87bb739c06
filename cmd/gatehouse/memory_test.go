package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/identity"
)

// rssKB reads a process's resident set (VmRSS) or peak (VmHWM) in KiB from /proc.
func rssKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			f := strings.Fields(line)
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// TestGigabyteResponseInBoundedMemory sends a 1 GiB response through the proxy of a
// separately built and started gatehouse process, and checks that the server's resident
// memory stays under 100 MB: the body is streamed, never buffered.
func TestGigabyteResponseInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and moves 1 GiB")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to measure resident memory")
	}
	const size = 1 << 30
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})

	dir := t.TempDir()
	bin := filepath.Join(dir, "gatehouse")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	admin := identity.NewTokenValue()
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--upstream-ca-file", up.caFile, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GATEHOUSE_BOOTSTRAP_TOKEN="+admin)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	base := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Gatehouse is listening on "); ok {
			base = rest
			break
		}
	}
	if base == "" {
		t.Fatal("server did not start")
	}
	go io.Copy(io.Discard, stdout)

	// The upstream is on loopback: open that range in the network policy.
	pol, _ := json.Marshal(map[string]any{"allowed_ip_ranges": []string{"127.0.0.0/8"}})
	preq, _ := http.NewRequest("PUT", base+"/api/2.0/gatehouse/network-policy", bytes.NewReader(pol))
	preq.Header.Set("Authorization", "Bearer "+admin)
	if status, b := send(t, preq); status != 200 {
		t.Fatalf("set network policy = %d %s", status, b)
	}
	body, _ := json.Marshal(map[string]any{"name": "big", "options": map[string]string{"host": up.URL, "bearer_token": "t"}})
	req, _ := http.NewRequest("POST", base+"/api/2.1/unity-catalog/connections", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	if status, b := send(t, req); status != 200 {
		t.Fatalf("create connection = %d %s", status, b)
	}

	pid := cmd.Process.Pid
	baseline, err := rssKB(pid, "VmRSS")
	if err != nil {
		t.Fatal(err)
	}
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if kb, err := rssKB(pid, "VmRSS"); err == nil && kb > peak.Load() {
					peak.Store(kb)
				}
			}
		}
	}()
	req, _ = http.NewRequest("GET", base+"/api/2.0/unity-catalog/connections/big/proxy/blob", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	close(done)
	if err != nil || n != size {
		t.Fatalf("received %d bytes (%v), want %d", n, err, size)
	}
	hwm, _ := rssKB(pid, "VmHWM")
	t.Logf("1 GiB in %v; server RSS baseline %d KiB, peak sampled %d KiB, VmHWM %d KiB", time.Since(start).Round(time.Millisecond), baseline, peak.Load(), hwm)
	if hwm > 100*1000 {
		t.Errorf("server peak resident memory %d KiB, want under 100 MB", hwm)
	}
}
