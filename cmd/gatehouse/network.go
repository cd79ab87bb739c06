package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/egress"
	"github.com/gatehouse/gatehouse/internal/httpapi"
)

// netState keeps what the safe dialer reads on every dial — the network policy and the
// destinations (host:port) of enabled connections — in memory, and reloads it when the
// store announces a change, so a policy or connection change (create, update, enable,
// disable, delete) applies to the next outbound connection.
type netState struct {
	st       catalog.Store
	log      *slog.Logger
	policy   atomic.Pointer[catalog.NetworkPolicy]
	dests    atomic.Pointer[egress.ConnectionDestinations]
	own      atomic.Pointer[[]netip.AddrPort]
	mu       sync.Mutex
	onPolicy []func()
	// extraRanges are allowed_ip_ranges added to the dialer's view of the stored policy
	// (--dev), never written to the store.
	extraRanges []string
}

// newNetState loads the policy and the connection destinations; extraRanges (--dev)
// open more address ranges in the dialer's view of the policy only.
func newNetState(ctx context.Context, st catalog.Store, log *slog.Logger, extraRanges []string) (*netState, error) {
	n := &netState{st: st, log: log, extraRanges: extraRanges}
	if err := n.loadPolicy(ctx); err != nil {
		return nil, err
	}
	if err := n.loadDestinations(ctx); err != nil {
		return nil, err
	}
	n.own.Store(&[]netip.AddrPort{})
	st.Watch(func(c catalog.Change) {
		switch c.Kind {
		case catalog.ChangeAll:
			// Scale-out: another replica's changes may have been missed; reload both.
			if err := n.loadPolicy(context.Background()); err != nil {
				n.log.Error("reload network policy", "err", err)
			}
			if err := n.loadDestinations(context.Background()); err != nil {
				n.log.Error("reload connection destinations", "err", err)
			}
			n.changed()
		case catalog.ChangeNetworkPolicy:
			if err := n.loadPolicy(context.Background()); err != nil {
				n.log.Error("reload network policy", "err", err)
			}
			n.changed()
		case catalog.ChangeConnection:
			old := n.dests.Load()
			if err := n.loadDestinations(context.Background()); err != nil {
				n.log.Error("reload connection destinations", "err", err)
			}
			// A connection disabled, deleted or moved closes its old destination: a
			// pooled connection there must not outlive the change either. (A change
			// that only adds destinations closes nothing, and keeps the pools.)
			if !n.dests.Load().Covers(old) {
				n.changed()
			}
		}
	})
	return n, nil
}

// changed runs the OnPolicyChange functions.
func (n *netState) changed() {
	n.mu.Lock()
	fns := append([]func(){}, n.onPolicy...)
	n.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// OnPolicyChange registers f to run after each change of what the dialer decides on:
// the policy, or the set of connection destinations (closing idle pooled connections,
// so that the next request dials, and is decided, again).
func (n *netState) OnPolicyChange(f func()) {
	n.mu.Lock()
	n.onPolicy = append(n.onPolicy, f)
	n.mu.Unlock()
}

func (n *netState) loadPolicy(ctx context.Context) error {
	p, err := n.st.GetNetworkPolicy(ctx)
	if catalog.IsNotFound(err) {
		p, err = &catalog.NetworkPolicy{RestrictionMode: catalog.FullAccess, EnforcementMode: catalog.Enforced}, nil
	}
	if err != nil {
		return err
	}
	if len(n.extraRanges) > 0 {
		view := *p
		view.AllowedIPRanges = append([]string{}, p.AllowedIPRanges...)
		for _, r := range n.extraRanges {
			if !slices.Contains(view.AllowedIPRanges, r) {
				view.AllowedIPRanges = append(view.AllowedIPRanges, r)
			}
		}
		p = &view
	}
	n.policy.Store(p)
	return nil
}

// loadDestinations rebuilds the connection destinations from every connection; disabled
// ones contribute nothing (egress.NewConnectionDestinations). On an error the previous
// set stays: it was right before the change, and an empty one would refuse every
// connection's calls.
func (n *netState) loadDestinations(ctx context.Context) error {
	cs, err := n.st.ListConnections(ctx, "", 0)
	if err != nil {
		return err
	}
	n.dests.Store(egress.NewConnectionDestinations(cs))
	return nil
}

// addOwn records one of Gatehouse's own listeners, which no outbound connection may
// reach.
func (n *netState) addOwn(addr net.Addr) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return
	}
	cur := *n.own.Load()
	next := append(append([]netip.AddrPort{}, cur...), ap)
	n.own.Store(&next)
}

func (n *netState) Policy() *catalog.NetworkPolicy { return n.policy.Load() }
func (n *netState) ConnectionDestinations() *egress.ConnectionDestinations {
	return n.dests.Load()
}
func (n *netState) OwnAddrs() []netip.AddrPort { return *n.own.Load() }

// netEvents records network denials: in the store, in batches from one goroutine so a
// flood of denials never waits on the disk, and as networkDenied audit events.
type netEvents struct {
	st    catalog.NetworkStore
	audit interface {
		Record(ctx context.Context, e *catalog.AuditEvent)
	}
	log     *slog.Logger
	ch      chan *catalog.NetworkEvent
	done    chan struct{}
	dropped atomic.Int64
	// closeMu makes sure no event is sent on ch once Close has closed it.
	closeMu sync.RWMutex
	closed  bool
}

func newNetEvents(st catalog.NetworkStore, audit interface {
	Record(ctx context.Context, e *catalog.AuditEvent)
}, log *slog.Logger) *netEvents {
	ne := &netEvents{st: st, audit: audit, log: log, ch: make(chan *catalog.NetworkEvent, 4096), done: make(chan struct{})}
	go ne.run()
	return ne
}

// RecordNetworkEvent queues the event; when the queue is full the event is counted and
// logged as dropped rather than slowing the dial path.
func (ne *netEvents) RecordNetworkEvent(ctx context.Context, e *catalog.NetworkEvent) {
	ne.closeMu.RLock()
	if ne.closed {
		ne.closeMu.RUnlock()
		ne.log.Warn("network event after shutdown, not stored", "destination", e.Destination, "access_type", e.AccessType)
		return
	}
	select {
	case ne.ch <- e:
	default:
		if ne.dropped.Add(1)%1000 == 1 {
			ne.log.Warn("network events dropped: the queue is full", "dropped", ne.dropped.Load())
		}
	}
	ne.closeMu.RUnlock()
	if ne.audit != nil {
		// A dry-run denial let the connection through, but it is not an ALLOW either: it
		// is what enforcement would refuse.
		decision := catalog.DecisionDeny
		if e.AccessType == catalog.AccessDryRunDenial {
			decision = catalog.DecisionDryRunDeny
		}
		ne.audit.Record(context.WithoutCancel(ctx), &catalog.AuditEvent{ActionName: catalog.ActionNetworkDenied, Principal: e.Principal,
			Connection: e.Connection, RequestID: e.RequestID, Decision: decision, StatusCode: 403, ErrorCode: string(catalog.NetworkPolicyDenied),
			Params: map[string]string{"destination": e.Destination, "resolved_address": e.ResolvedAddress, "source": e.Source, "reason": e.Reason, "access_type": e.AccessType}})
	}
}

func (ne *netEvents) run() {
	defer close(ne.done)
	for first := range ne.ch {
		batch := []*catalog.NetworkEvent{first}
		timer := time.NewTimer(50 * time.Millisecond)
	gather:
		for len(batch) < 256 {
			select {
			case e, ok := <-ne.ch:
				if !ok {
					break gather
				}
				batch = append(batch, e)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		if err := ne.st.AppendNetworkEvents(context.Background(), batch); err != nil {
			ne.log.Error("store network events", "events", len(batch), "err", err)
		}
	}
}

// Close stores what is queued and stops.
func (ne *netEvents) Close() {
	ne.closeMu.Lock()
	if !ne.closed {
		ne.closed = true
		close(ne.ch)
	}
	ne.closeMu.Unlock()
	<-ne.done
}

// oauthDial marks every dial of the OAuth client as source "oauth", keeping the
// principal, connection and request id the context carries (a refresh may run inside a
// proxy call); without a request id in the Source, that of the API request the token
// call runs in (a login callback, a connection's creation, a refresh before the call).
func oauthDial(d *egress.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		s := egress.SourceFrom(ctx)
		s.Kind = catalog.SourceOAuth
		if s.RequestID == "" {
			s.RequestID = httpapi.RequestID(ctx)
		}
		return d.DialContext(egress.WithSource(ctx, s), network, addr)
	}
}
