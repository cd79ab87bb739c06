package storetest

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

func testTokenCreateGet(f *fixture) {
	alice := f.user("alice@example.com")
	admin := f.user("admin")
	tk := f.newToken(alice.ID)
	tk.CreatedBy = admin.ID
	tk.Comment = "CI pipeline"
	tk.ExpiresAt = f.tick().Add(90 * 24 * time.Hour)
	tk.Audience = "https://gatehouse.example.com/api/2.0/mcp/external/github"
	f.must("CreateToken", f.s.CreateToken(f.ctx, tk))
	never := f.token(alice.ID) // no expiry, never used

	for _, want := range []*catalog.Token{tk, never} {
		got, err := f.s.GetToken(f.ctx, want.ID)
		f.must("GetToken", err)
		if d := diff(want, got); d != "" {
			f.t.Errorf("GetToken mismatch (-want +got):\n%s", d)
		}
		got, err = f.s.GetTokenByHash(f.ctx, want.Hash)
		f.must("GetTokenByHash", err)
		if d := diff(want, got); d != "" {
			f.t.Errorf("GetTokenByHash mismatch (-want +got):\n%s", d)
		}
	}
	got, err := f.s.GetToken(f.ctx, never.ID)
	f.must("GetToken", err)
	if !got.ExpiresAt.IsZero() || !got.LastUsedAt.IsZero() || got.Audience != "" {
		f.t.Errorf("zero expiry, last use and audience came back as %v, %v, %q", got.ExpiresAt, got.LastUsedAt, got.Audience)
	}

	// The returned hash is the caller's to change.
	got.Hash[0] ^= 0xff
	if _, err := f.s.GetTokenByHash(f.ctx, never.Hash); err != nil {
		f.t.Errorf("changing a returned hash changed the store: %v", err)
	}

	_, err = f.s.GetToken(f.ctx, catalog.NewID())
	f.wantCode("GetToken(missing)", err, catalog.ResourceDoesNotExist)
	unknown := f.newToken(alice.ID)
	_, err = f.s.GetTokenByHash(f.ctx, unknown.Hash)
	f.wantCode("GetTokenByHash(missing)", err, catalog.ResourceDoesNotExist)
	if err != nil && (strings.Contains(err.Error(), hex.EncodeToString(unknown.Hash)) || strings.Contains(err.Error(), string(unknown.Hash))) {
		f.t.Errorf("GetTokenByHash error reveals the hash: %v", err)
	}
}

func testTokenRefused(f *fixture) {
	alice := f.user("alice@example.com")
	tk := f.token(alice.ID)

	dupID := f.newToken(alice.ID)
	dupID.ID = tk.ID
	f.wantCode("CreateToken with a taken ID", f.s.CreateToken(f.ctx, dupID), catalog.ResourceAlreadyExists)

	dupHash := f.newToken(alice.ID)
	dupHash.Hash = tk.Hash
	err := f.s.CreateToken(f.ctx, dupHash)
	f.wantCode("CreateToken with a taken hash", err, catalog.ResourceAlreadyExists)
	if err != nil && (strings.Contains(err.Error(), hex.EncodeToString(tk.Hash)) || strings.Contains(err.Error(), string(tk.Hash))) {
		f.t.Errorf("CreateToken error reveals the hash: %v", err)
	}

	orphan := f.newToken(catalog.NewID())
	f.wantCode("CreateToken for a missing principal", f.s.CreateToken(f.ctx, orphan), catalog.ResourceDoesNotExist)

	ts, err := f.s.ListTokens(f.ctx, "")
	f.must("ListTokens", err)
	if len(ts) != 1 {
		f.t.Errorf("refused CreateToken calls stored tokens: %d, want 1", len(ts))
	}
}

func testTokenList(f *fixture) {
	alice := f.user("alice@example.com")
	bob := f.user("bob@example.com")
	// Created out of time order: the list follows CreatedAt, not insertion.
	times := make([]time.Time, 6)
	for i := range times {
		times[i] = f.tick()
	}
	var all, ofAlice []*catalog.Token
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		owner := alice
		if i%2 == 1 {
			owner = bob
		}
		tk := f.newToken(owner.ID)
		tk.CreatedAt = times[i]
		f.must("CreateToken", f.s.CreateToken(f.ctx, tk))
		all = append(all, tk)
	}
	byTime := func(ts []*catalog.Token) []*catalog.Token {
		out := slices.Clone(ts)
		slices.SortFunc(out, func(a, b *catalog.Token) int { return a.CreatedAt.Compare(b.CreatedAt) })
		return out
	}
	for _, tk := range all {
		if tk.PrincipalID == alice.ID {
			ofAlice = append(ofAlice, tk)
		}
	}

	got, err := f.s.ListTokens(f.ctx, "")
	f.must("ListTokens", err)
	if d := diff(byTime(all), got); d != "" {
		f.t.Errorf(`ListTokens("") (-want +got):\n%s`, d)
	}
	got, err = f.s.ListTokens(f.ctx, alice.ID)
	f.must("ListTokens", err)
	if d := diff(byTime(ofAlice), got); d != "" {
		f.t.Errorf("ListTokens(alice) (-want +got):\n%s", d)
	}
	got, err = f.s.ListTokens(f.ctx, f.user("carol@example.com").ID)
	f.must("ListTokens", err)
	if len(got) != 0 {
		f.t.Errorf("ListTokens(carol) = %d tokens, want 0", len(got))
	}
}

func testTokenDelete(f *fixture) {
	alice := f.user("alice@example.com")
	tk, keep := f.token(alice.ID), f.token(alice.ID)
	f.must("DeleteToken", f.s.DeleteToken(f.ctx, tk.ID))
	_, err := f.s.GetToken(f.ctx, tk.ID)
	f.wantCode("GetToken after delete", err, catalog.ResourceDoesNotExist)
	_, err = f.s.GetTokenByHash(f.ctx, tk.Hash)
	f.wantCode("GetTokenByHash after delete", err, catalog.ResourceDoesNotExist)
	f.wantCode("DeleteToken again", f.s.DeleteToken(f.ctx, tk.ID), catalog.ResourceDoesNotExist)
	if _, err := f.s.GetToken(f.ctx, keep.ID); err != nil {
		f.t.Errorf("DeleteToken removed another token: %v", err)
	}
}

func testTokenTouch(f *fixture) {
	alice := f.user("alice@example.com")
	t1, t2, t3 := f.token(alice.ID), f.token(alice.ID), f.token(alice.ID)
	u1, u2 := f.tick(), f.tick()
	f.must("TouchTokens", f.s.TouchTokens(f.ctx, map[string]time.Time{
		t1.ID:           u1,
		t2.ID:           u2,
		catalog.NewID(): u2, // unknown: ignored
	}))
	f.must("TouchTokens(empty)", f.s.TouchTokens(f.ctx, nil))
	for _, tc := range []struct {
		tk   *catalog.Token
		want time.Time
	}{{t1, u1}, {t2, u2}, {t3, time.Time{}}} {
		got, err := f.s.GetToken(f.ctx, tc.tk.ID)
		f.must("GetToken", err)
		if !got.LastUsedAt.Equal(tc.want) {
			f.t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, tc.want)
		}
	}

	// Later wins; an older report (another replica's late batch) does not go back.
	u3 := f.tick()
	f.must("TouchTokens", f.s.TouchTokens(f.ctx, map[string]time.Time{t1.ID: u3, t2.ID: u1}))
	for _, tc := range []struct {
		tk   *catalog.Token
		want time.Time
	}{{t1, u3}, {t2, u2}} {
		got, err := f.s.GetTokenByHash(f.ctx, tc.tk.Hash)
		f.must("GetTokenByHash", err)
		if !got.LastUsedAt.Equal(tc.want) {
			f.t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, tc.want)
		}
	}
}
