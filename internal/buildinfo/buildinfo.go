// Package buildinfo says which Gatehouse is running: its version and commit, read from
// the Go build information or set at link time, and the Go version that built it.
//
// A release build sets both with
//
//	go build -ldflags "-X github.com/gatehouse/gatehouse/internal/buildinfo.version=v1.2.3 \
//	  -X github.com/gatehouse/gatehouse/internal/buildinfo.commit=$(git rev-parse HEAD)" ./cmd/gatehouse
//
// Without them, the version is the module version (a `go install ...@v1.2.3` build) and
// the commit is the VCS revision Go stamps into a build from a checkout, with
// "-modified" appended when the work tree had uncommitted changes.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set at link time with -ldflags -X; empty means "read the build information".
var (
	version string
	commit  string
)

// Unknown values, when neither the linker nor the build information says.
const (
	UnknownVersion = "(devel)"
	UnknownCommit  = "unknown"
)

// Info is what a build says about itself.
type Info struct {
	// Version is the release version, e.g. v1.2.3, or UnknownVersion.
	Version string `json:"version"`
	// Commit is the VCS revision (with "-modified" for a dirty work tree), or UnknownCommit.
	Commit string `json:"commit"`
	// GoVersion is the Go release that built the binary, e.g. go1.26.0.
	GoVersion string `json:"go_version"`
}

// Get returns the running binary's Info; it is computed once.
var Get = sync.OnceValue(func() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return from(bi, version, commit, runtime.Version())
})

// from builds an Info from the build information (nil if none) and the link-time
// overrides, which win when set.
func from(bi *debug.BuildInfo, version, commit, goVersion string) Info {
	info := Info{Version: UnknownVersion, Commit: UnknownCommit, GoVersion: goVersion}
	if bi != nil {
		if v := bi.Main.Version; v != "" {
			info.Version = v
		}
		var revision string
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if revision != "" {
			info.Commit = revision
			if modified {
				info.Commit += "-modified"
			}
		}
	}
	if version != "" {
		info.Version = version
	}
	if commit != "" {
		info.Commit = commit
	}
	return info
}
