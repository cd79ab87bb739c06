//go:build !race

package oidcprovider_test

// raceEnabled makes TestMain build the gatehouse binary with -race too.
const raceEnabled = false
