package console

import (
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"never", time.Time{}, "never"},
		{"seconds ahead", now.Add(20 * time.Second), "in under a minute"},
		{"seconds ago", now.Add(-20 * time.Second), "just now"},
		{"one minute ago", now.Add(-time.Minute), "1 minute ago"},
		{"minutes ahead", now.Add(59 * time.Minute), "in 59 minutes"},
		{"hours ahead", now.Add(47 * time.Hour), "in 47 hours"},
		{"three days ahead", now.Add(3*24*time.Hour + time.Hour), "in 3 days"},
		{"days ago", now.Add(-10 * 24 * time.Hour), "10 days ago"},
		{"months ahead", now.Add(90 * 24 * time.Hour), "in 3 months"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := relative(tt.t, now); got != tt.want {
				t.Errorf("relative = %q, want %q", got, tt.want)
			}
		})
	}
}
