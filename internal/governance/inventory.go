package governance

import (
	"context"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// InventoryNoUserYet is the holder of the NEEDS_LOGIN row of a per-user connection no
// user has logged in to yet.
const InventoryNoUserYet = "(no user yet)"

// InventoryHolderShared is the holder of a connection's shared credential.
const InventoryHolderShared = "shared"

// InventoryItem is one credential Gatehouse holds, or the NEEDS_LOGIN row of a
// user-to-machine connection that holds none yet. Times are zero when unknown.
type InventoryItem struct {
	Connection     string
	CredentialType catalog.CredentialType
	// Holder is InventoryHolderShared, the user's name, or InventoryNoUserYet.
	Holder           string
	State            catalog.CredentialState
	Reason           string
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	LastUsedAt       time.Time
	LastRefreshedAt  time.Time
	// AuthorizedBy is the name of who authorized the credential, "" when unknown.
	AuthorizedBy string
	// GranteeCount counts the principals granted USE_CONNECTION (or ALL_PRIVILEGES).
	GranteeCount int
}

// Inventory lists every credential held, shared and per user, ordered by connection
// and holder; admins only. A user-to-machine connection nobody has logged in to yet
// holds no credential, yet it is where a newcomer is stuck: it gets one NEEDS_LOGIN
// row, whose holder is "shared" or, per user, InventoryNoUserYet. A per-user connection
// that some users logged in to lists only theirs: the users who have not are not
// enumerated.
func (s *Service) Inventory(ctx context.Context, who *catalog.Principal) ([]InventoryItem, error) {
	if err := s.RequireAdmin(ctx, who); err != nil {
		return nil, err
	}
	all, err := s.d.Store.ListConnections(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	n := s.names()
	byID := map[string]*catalog.Connection{}
	out := []InventoryItem{}
	counts, err := s.granteeCounts(ctx)
	if err != nil {
		return nil, err
	}
	grantees := func(c *catalog.Connection) (int, error) { return counts[c.ID], nil }
	for _, c := range all {
		byID[c.ID] = c
		if c.CredentialType == catalog.BearerToken {
			st, _ := s.d.Broker.Status(ctx, c, nil)
			g, err := grantees(c)
			if err != nil {
				return nil, err
			}
			out = append(out, InventoryItem{Connection: c.Name, CredentialType: c.CredentialType, Holder: InventoryHolderShared,
				State: st.State, Reason: st.Reason, GranteeCount: g})
		}
	}
	sts, conns, err := s.d.Broker.Inventory(ctx, byID)
	if err != nil {
		return nil, err
	}
	for i, st := range sts {
		c := conns[i]
		item := InventoryItem{Connection: c.Name, CredentialType: c.CredentialType, Holder: InventoryHolderShared,
			State: st.State, Reason: st.Reason, AccessExpiresAt: st.AccessExpiresAt, RefreshExpiresAt: st.RefreshExpiresAt,
			LastUsedAt: st.LastUsedAt, LastRefreshedAt: st.LastRefreshedAt}
		if item.AuthorizedBy, err = n.of(ctx, st.AuthorizedBy); err != nil {
			return nil, err
		}
		if st.Holder != "" {
			if item.Holder, err = n.of(ctx, st.Holder); err != nil {
				return nil, err
			}
		}
		if item.GranteeCount, err = grantees(c); err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	held := map[string]bool{}
	for _, c := range conns {
		held[c.ID] = true
	}
	for _, c := range all {
		if held[c.ID] || (c.CredentialType != catalog.OAuthU2M && c.CredentialType != catalog.OAuthU2MPerUser) {
			continue
		}
		item := InventoryItem{Connection: c.Name, CredentialType: c.CredentialType, Holder: InventoryHolderShared, State: catalog.StateNeedsLogin,
			Reason: "nobody has authorized this connection yet; the owner or a MANAGE holder logs in at " + s.d.Broker.LoginURL(c.Name)}
		if c.CredentialType == catalog.OAuthU2MPerUser {
			item.Holder = InventoryNoUserYet
			item.Reason = "no user has logged in to this connection yet; each user logs in at " + s.d.Broker.LoginURL(c.Name)
		}
		if !c.Enabled {
			item.State, item.Reason = catalog.StateDisabled, "the connection is disabled"
		}
		if item.GranteeCount, err = grantees(c); err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Connection != b.Connection {
			return a.Connection < b.Connection
		}
		return a.Holder < b.Holder
	})
	return out, nil
}

// granteeCounts counts, per connection id, the principals granted USE_CONNECTION or
// ALL_PRIVILEGES on it, in two store reads (every principal, then their grants) rather
// than one per connection.
func (s *Service) granteeCounts(ctx context.Context) (map[string]int, error) {
	ps, err := s.d.Store.ListPrincipals(ctx, "")
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	gs, err := s.d.Store.ListGrantsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	seen := map[[2]string]bool{}
	counts := map[string]int{}
	for _, g := range gs {
		if g.SecurableType != catalog.SecurableConnection || (g.Privilege != catalog.UseConnection && g.Privilege != catalog.AllPrivileges) {
			continue
		}
		if k := [2]string{g.SecurableID, g.PrincipalID}; !seen[k] {
			seen[k] = true
			counts[g.SecurableID]++
		}
	}
	return counts, nil
}
