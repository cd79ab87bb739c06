package storetest

import (
	"fmt"
	"sync"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// testConcurrentWrites runs writers of tokens and grants against readers of the
// request path, all at once. Run it with -race.
func testConcurrentWrites(f *fixture) {
	const writers, writes = 8, 50
	owner := f.user("owner@example.com")
	conns := make([]*catalog.Connection, 5)
	for i := range conns {
		conns[i] = f.connection(fmt.Sprintf("conn-%d", i), owner.ID)
	}
	principals := make([]*catalog.Principal, writers)
	tokens := make([][]*catalog.Token, writers)
	for i := range principals {
		principals[i] = f.user(fmt.Sprintf("writer-%d@example.com", i))
		for range writes / 2 {
			tokens[i] = append(tokens[i], f.newToken(principals[i].ID))
		}
	}
	seed := f.token(owner.ID)

	stop := make(chan struct{})
	var readers sync.WaitGroup
	var readErrs sync.Map
	for r := range 4 {
		readers.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch n % 4 {
				case 0:
					_, err = f.s.GetTokenByHash(f.ctx, seed.Hash)
				case 1:
					_, err = f.s.GetPrincipal(f.ctx, owner.ID)
				case 2:
					_, err = f.s.GetConnection(f.ctx, conns[(n+r)%len(conns)].Name)
				case 3:
					_, err = f.s.ListGrants(f.ctx, catalog.SecurableConnection, conns[(n+r)%len(conns)].ID)
				}
				if err != nil {
					readErrs.Store(r, err)
					return
				}
			}
		})
	}

	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			p := principals[i]
			for n := range writes {
				var err error
				if n%2 == 0 {
					err = f.s.CreateToken(f.ctx, tokens[i][n/2])
				} else {
					c := conns[(n/2)%len(conns)]
					err = f.s.UpdateGrants(f.ctx, catalog.SecurableConnection, c.ID,
						[]catalog.Grant{{PrincipalID: p.ID, Privilege: catalog.UseConnection}},
						[]catalog.Grant{{PrincipalID: p.ID, Privilege: catalog.Manage}})
				}
				if err != nil {
					errs[i] = fmt.Errorf("writer %d, write %d: %w", i, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for _, err := range errs {
		if err != nil {
			f.t.Error(err)
		}
	}
	readErrs.Range(func(r, err any) bool {
		f.t.Errorf("reader %d: %v", r, err)
		return true
	})

	all, err := f.s.ListTokens(f.ctx, "")
	f.must("ListTokens", err)
	if want := 1 + writers*writes/2; len(all) != want {
		f.t.Errorf("ListTokens = %d tokens, want %d", len(all), want)
	}
	for i := range writers {
		for _, tk := range tokens[i] {
			if _, err := f.s.GetTokenByHash(f.ctx, tk.Hash); err != nil {
				f.t.Errorf("GetTokenByHash(writer %d's token): %v", i, err)
			}
		}
	}
	ids := make([]string, writers)
	for i, p := range principals {
		ids[i] = p.ID
	}
	gs, err := f.s.ListGrantsOf(f.ctx, ids)
	f.must("ListGrantsOf", err)
	if want := writers * len(conns); len(gs) != want {
		f.t.Errorf("ListGrantsOf(writers) = %d grants, want %d", len(gs), want)
	}
}

// testConcurrentCycle adds the edges of a ring of groups all at once: any n-1 of them
// are fine, the last one to commit closes the ring and must be refused, whatever the
// interleaving.
func testConcurrentCycle(f *fixture) {
	const n = 8
	for round := range 3 {
		groups := make([]*catalog.Principal, n)
		for i := range groups {
			groups[i] = f.group(fmt.Sprintf("ring%d-%d", round, i))
		}
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				errs[i] = f.s.AddMember(f.ctx, groups[i].ID, groups[(i+1)%n].ID)
			})
		}
		close(start)
		wg.Wait()

		failed := 0
		for i, err := range errs {
			if err == nil {
				continue
			}
			failed++
			if catalog.CodeOf(err) != catalog.InvalidParameterValue {
				f.t.Errorf("round %d: AddMember edge %d: %v, want INVALID_PARAMETER_VALUE (cycle)", round, i, err)
			}
		}
		if failed != 1 {
			f.t.Errorf("round %d: %d of %d ring edges refused, want exactly 1: %v", round, failed, n, errs)
		}
		ms, err := f.s.ListMemberships(f.ctx)
		f.must("ListMemberships", err)
		inRing := 0
		ring := make(map[string]bool)
		for _, g := range groups {
			ring[g.ID] = true
		}
		for _, m := range ms {
			if ring[m.GroupID] {
				inRing++
			}
		}
		if inRing != n-1 {
			f.t.Errorf("round %d: %d ring edges stored, want %d", round, inRing, n-1)
		}
	}
}
