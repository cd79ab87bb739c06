//go:build !unix

package main

// lockDataDir is a no-op where flock is missing: `gatehouse admin recover` then relies
// on SQLite's own locking alone.
func lockDataDir(dir string, exclusive bool) (func(), error) { return func() {}, nil }
