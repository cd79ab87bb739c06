package credential

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/seal"
)

// ForgetDestination deletes every stored token of an OAuth connection whose
// destination changes — each user's, the shared one and a machine-to-machine one —
// after revoking each at the provider of old, the connection as it was before the
// change (RFC 7009, where that provider offers it). The tokens were issued by the old
// provider for the old destination: kept, they would go to the new one on the next
// call. Users of user-to-machine connections see NEEDS_LOGIN afterwards;
// machine-to-machine connections fetch a fresh token from the new endpoint. It returns
// how many tokens were deleted; a token deleted meanwhile by someone else is no error.
func (b *Broker) ForgetDestination(ctx context.Context, old *catalog.Connection) (int, error) {
	if !old.CredentialType.IsOAuth() {
		return 0, nil
	}
	creds, err := b.store.ListCredentials(ctx, old.ID)
	if err != nil {
		return 0, fmt.Errorf("list credentials of connection %s: %w", old.ID, err)
	}
	n := 0
	for _, cred := range creds {
		b.revokeAtProvider(ctx, old, cred)
		if err := b.store.DeleteCredential(ctx, old.ID, cred.PrincipalID); err != nil && !catalog.IsNotFound(err) {
			return n, fmt.Errorf("delete credential of connection %s: %w", old.ID, err)
		}
		n++
	}
	// Drop what is in memory too, retry pacing included: it was about the old endpoint.
	b.mu.Lock()
	for k := range b.cache {
		if k.conn == old.ID {
			delete(b.cache, k)
		}
	}
	b.gen++
	b.mu.Unlock()
	return n, nil
}

// destinationTag names the destination of c (catalog.DestinationOf: the API's host and
// port, the OAuth endpoints, the credential header) in the additional data of the
// tokens obtained for it, so that a token obtained for one destination does not open
// for another: a call that races a destination change (a refresh or login under the old
// options finishing after the change) can store a token, but nobody can use it under
// the new options.
func destinationTag(c *catalog.Connection) string {
	d := catalog.DestinationOf(c.Options)
	h := sha256.Sum256([]byte(strings.Join([]string{d.Host, d.Port, d.TokenEndpoint, d.AuthorizationEndpoint, d.HeaderName, d.HeaderPrefix}, "\x00")))
	return hex.EncodeToString(h[:16])
}

// tokenAAD is the additional data of a token of connection c held for principalID.
func tokenAAD(c *catalog.Connection, field, principalID string) seal.AAD {
	return seal.AAD{SecurableID: c.ID, Field: field + "@" + destinationTag(c), Principal: principalID}
}

// openCred opens a sealed token of cred for use with connection c. A token sealed for
// another destination of c does not open. One sealed before tokens were bound to their
// destination (no tag) still opens: every destination change deletes those.
func (b *Broker) openCred(c *catalog.Connection, cred *catalog.OAuthCredential, field string, ct []byte) (string, error) {
	pt, err := b.keyring.Open(ct, tokenAAD(c, field, cred.PrincipalID))
	if err != nil {
		pt, err = b.keyring.Open(ct, seal.AAD{SecurableID: cred.ConnectionID, Field: field, Principal: cred.PrincipalID})
	}
	if err != nil {
		return "", fmt.Errorf("open %s of connection %s: %w", field, cred.ConnectionID, err)
	}
	return string(pt), nil
}

// boundTo reports whether the tokens of cred were obtained for c's current destination.
func (b *Broker) boundTo(c *catalog.Connection, cred *catalog.OAuthCredential) bool {
	field, ct := catalog.FieldAccessToken, cred.AccessToken
	if len(ct) == 0 {
		field, ct = catalog.FieldRefreshToken, cred.RefreshToken
	}
	if len(ct) == 0 {
		return true
	}
	_, err := b.openCred(c, cred, field, ct)
	return err == nil
}
