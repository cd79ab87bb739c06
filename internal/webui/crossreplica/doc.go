// Package crossreplica holds the tests of browser sessions and OAuth logins across
// replicas: two brokers and two web UIs on one store, the way N Gatehouse replicas share
// one database. It has no code of its own.
package crossreplica
