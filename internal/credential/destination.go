package credential

import (
	"context"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
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
