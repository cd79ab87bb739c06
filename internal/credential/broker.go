// Package credential is the broker between a connection and the upstream: for a
// (connection, caller) pair it answers with the one header to inject. The proxy asks it
// and knows nothing of credential types; OAuth types (token fetch, cache, refresh, state)
// plug in here.
package credential

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// Broker produces the credential header for calls through a connection.
type Broker struct {
	keyring *seal.Keyring
}

// New returns a broker that opens sealed secrets with the keyring.
func New(kr *seal.Keyring) *Broker { return &Broker{keyring: kr} }

// Header returns the header name and value to inject for the caller's call through c.
// The value is a secret: callers must not log it or put it in an error.
func (b *Broker) Header(ctx context.Context, c *catalog.Connection, caller *catalog.Principal) (name, value string, err error) {
	name = c.Options[catalog.OptAuthHeaderName]
	if name == "" {
		name = catalog.DefaultAuthHeaderName
	}
	prefix, set := c.Options[catalog.OptAuthHeaderPrefix]
	if !set {
		prefix = catalog.DefaultAuthHeaderPrefix
	}
	switch c.CredentialType {
	case catalog.BearerToken:
		tok, err := b.open(c, catalog.OptBearerToken)
		if err != nil {
			return "", "", err
		}
		return name, prefix + tok, nil
	}
	return "", "", catalog.Errorf(catalog.TemporarilyUnavailable, "connection %s: credential type %s cannot be used for calls yet", c.Name, c.CredentialType)
}

// open unseals one shared secret of the connection.
func (b *Broker) open(c *catalog.Connection, field string) (string, error) {
	ct, ok := c.Secrets[field]
	if !ok {
		return "", fmt.Errorf("connection %s has no sealed %s", c.ID, field)
	}
	pt, err := b.keyring.Open(ct, seal.AAD{SecurableID: c.ID, Field: field})
	if err != nil {
		// The wrapped error names the failure, never the plaintext.
		return "", fmt.Errorf("open %s of connection %s: %w", field, c.ID, err)
	}
	return string(pt), nil
}
