//go:build !unix

package main

// cliLockConfig is a no-op where flock is missing: two CLI processes renewing one
// profile at the same moment may then end its session (run gatehouse auth login again).
func cliLockConfig(path string) (func(), error) { return func() {}, nil }
