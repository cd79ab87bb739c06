package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	t.Parallel()
	stamped := func(version string, settings ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/gatehouse/gatehouse", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return bi
	}
	tests := []struct {
		name            string
		bi              *debug.BuildInfo
		version, commit string // link-time overrides
		want            Info
	}{
		{name: "no build information", want: Info{UnknownVersion, UnknownCommit, "go1.26.0"}},
		{name: "go install of a tag", bi: stamped("v1.4.0"), want: Info{"v1.4.0", UnknownCommit, "go1.26.0"}},
		{name: "build from a clean checkout", bi: stamped("(devel)", "vcs", "git", "vcs.revision", "0123abcd", "vcs.modified", "false"),
			want: Info{"(devel)", "0123abcd", "go1.26.0"}},
		{name: "build from a modified checkout", bi: stamped("", "vcs.revision", "0123abcd", "vcs.modified", "true"),
			want: Info{UnknownVersion, "0123abcd-modified", "go1.26.0"}},
		{name: "ldflags override both", bi: stamped("(devel)", "vcs.revision", "0123abcd", "vcs.modified", "true"), version: "v2.0.0", commit: "feedbeef",
			want: Info{"v2.0.0", "feedbeef", "go1.26.0"}},
		{name: "ldflags override the version only", bi: stamped("", "vcs.revision", "0123abcd"), version: "v2.0.0-rc.1",
			want: Info{"v2.0.0-rc.1", "0123abcd", "go1.26.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := from(tt.bi, tt.version, tt.commit, "go1.26.0"); got != tt.want {
				t.Errorf("from = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGetReportsTheRunningGo(t *testing.T) {
	t.Parallel()
	got := Get()
	if got.GoVersion != runtime.Version() || got.Version == "" || got.Commit == "" {
		t.Errorf("Get() = %+v, want every field set and GoVersion %s", got, runtime.Version())
	}
}
