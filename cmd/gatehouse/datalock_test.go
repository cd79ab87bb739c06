//go:build unix

package main

import (
	"errors"
	"strings"
	"testing"
)

// TestDataDirLock: servers share the data folder; `admin recover` holds it alone, and
// each side is refused, with what to do, while the other holds it.
func TestDataDirLock(t *testing.T) {
	tests := []struct {
		name          string
		first, second bool // exclusive?
		wantBusy      string
	}{
		{"two servers share it", false, false, ""},
		{"recover under a server", false, true, "stop the server first"},
		{"server under a recover", true, false, "start the server when it has finished"},
		{"two recovers", true, true, "stop the server first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			release, err := lockDataDir(dir, tt.first)
			if err != nil {
				t.Fatal(err)
			}
			second, err := lockDataDir(dir, tt.second)
			if tt.wantBusy == "" {
				if err != nil {
					t.Fatalf("second lock = %v, want it shared", err)
				}
				second()
				release()
				return
			}
			if !errors.Is(err, errDataDirBusy) || !strings.Contains(err.Error(), tt.wantBusy) {
				t.Fatalf("second lock = %v, want busy with %q", err, tt.wantBusy)
			}
			release()
			again, err := lockDataDir(dir, tt.second)
			if err != nil {
				t.Fatalf("lock after release = %v", err)
			}
			again()
		})
	}
}
