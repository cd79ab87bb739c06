package credential

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Status is a credential's state as an API caller sees it.
type Status struct {
	State            catalog.CredentialState
	Reason           string
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	LastRefreshedAt  time.Time
	LastUsedAt       time.Time
	AuthorizedBy     string // principal ID
	// Holder is "" for a shared credential, else the principal ID of its user.
	Holder string
}

// Status returns the state of c's credential for the caller: the shared one, or for a
// per-user connection the caller's own.
func (b *Broker) Status(ctx context.Context, c *catalog.Connection, caller *catalog.Principal) (Status, error) {
	principalID := ""
	if c.CredentialType == catalog.OAuthU2MPerUser && caller != nil {
		principalID = caller.ID
	}
	if !c.CredentialType.IsOAuth() {
		st := Status{State: catalog.StateActive}
		if !c.Enabled {
			st.State, st.Reason = catalog.StateDisabled, "the connection is disabled"
		}
		return st, nil
	}
	cred, err := b.store.GetCredential(ctx, c.ID, principalID)
	if catalog.IsNotFound(err) {
		st := Status{State: catalog.StateNeedsLogin, Holder: principalID}
		switch c.CredentialType {
		case catalog.OAuthU2MPerUser:
			st.Reason = "you have not logged in to this connection yet: " + b.LoginURL(c.Name)
		case catalog.OAuthU2M:
			st.Reason = "nobody has authorized this connection yet; the owner or a MANAGE holder logs in at " + b.LoginURL(c.Name)
		default:
			st.Reason = "no token has been fetched yet"
		}
		if !c.Enabled {
			st.State, st.Reason = catalog.StateDisabled, "the connection is disabled"
		}
		return st, nil
	}
	if err != nil {
		return Status{}, err
	}
	return b.statusOf(ctx, c, cred), nil
}

func (b *Broker) statusOf(ctx context.Context, c *catalog.Connection, cred *catalog.OAuthCredential) Status {
	st := Status{State: cred.State, Reason: cred.Reason, AccessExpiresAt: cred.AccessExpiresAt, RefreshExpiresAt: cred.RefreshExpiresAt,
		LastRefreshedAt: cred.LastRefreshedAt, LastUsedAt: cred.LastUsedAt, AuthorizedBy: cred.AuthorizedBy, Holder: cred.PrincipalID}
	if st.State == "" {
		st.State = catalog.StateActive
	}
	now := b.opts.Now()
	if st.State == catalog.StateActive || st.State == catalog.StateExpiring {
		st.State, st.Reason = b.assess(c, cred, now)
	}
	if c.CredentialType == catalog.OAuthU2M && cred.AuthorizedBy != "" && st.State != catalog.StateReauthRequired {
		if p, err := b.store.GetPrincipal(ctx, cred.AuthorizedBy); err == nil && !p.Active {
			st.State, st.Reason = catalog.StateReauthRequired, "authorized by "+p.Name+" (deactivated); the owner or a MANAGE holder must log in again"
		} else if catalog.IsNotFound(err) {
			st.State, st.Reason = catalog.StateReauthRequired, "authorized by a principal that was deleted; the owner or a MANAGE holder must log in again"
		}
	}
	if !c.Enabled {
		st.State, st.Reason = catalog.StateDisabled, "the connection is disabled"
	}
	return st
}

// Inventory lists every OAuth credential held, with its state.
func (b *Broker) Inventory(ctx context.Context, conns map[string]*catalog.Connection) ([]Status, []*catalog.Connection, error) {
	creds, err := b.store.ListCredentials(ctx, "")
	if err != nil {
		return nil, nil, err
	}
	var out []Status
	var of []*catalog.Connection
	for _, cred := range creds {
		c, ok := conns[cred.ConnectionID]
		if !ok {
			continue
		}
		out = append(out, b.statusOf(ctx, c, cred))
		of = append(of, c)
	}
	return out, of, nil
}
