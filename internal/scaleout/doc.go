// Package scaleout holds the scale-out acceptance tests of issue 11: several real
// gatehouse server processes (replicas) on one PostgreSQL database, talked to
// directly (no load balancer), against a real authorization server that rotates
// refresh tokens with reuse detection and issues short-lived access tokens. The
// package has no code of its own; its tests build the gatehouse binary once and
// start, kill (-9) and restart replicas as separate processes. It is slow, and
// kept apart so that it runs in parallel with the other packages' tests.
package scaleout
