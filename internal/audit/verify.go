package audit

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Keyed chains and the events written before them.
//
// A server with a chain key (ChainKey, from the master key) hashes every event with
// KeyedHashOf. Logs written before chains were keyed hold events hashed with HashOf
// (legacy events). The rule for them: legacy events are accepted only as a prefix of
// the log, and only when the first keyed event after them is an ActionAuditChainKeyed
// anchor chained to the last of them. A keyed Recorder writes that anchor only when an
// operator lets it (Options.AnchorLegacy, the server's --audit-anchor-legacy-chain),
// and otherwise refuses to start on a log whose newest event is unkeyed. The anchor
// fixes the legacy prefix: changing a legacy event means rehashing every later one, the
// anchor's prev_hash included, which cannot be done without the key. A log rewritten
// with unkeyed hashes from some event on fails: after a keyed event, an unkeyed hash is
// a break; a log of unkeyed hashes only has no anchor; and a server refuses to continue
// either. What no chain can tell is a whole log rewritten unkeyed and then anchored by
// an operator who accepted it: a head saved elsewhere (Verifier's savedHead) does.

// ActionAuditChainKeyed is the action of the event that a Recorder with a chain key
// writes when the log's newest event is a legacy (unkeyed) one: from it on the chain is
// keyed. Its params name the legacy head it continues from.
const ActionAuditChainKeyed = catalog.ActionAuditChainKeyed

// Verifier checks a log page by page, oldest event first: each event's prev_hash is the
// hash of the event before it (Genesis for the first), each hash is the keyed hash of
// its event, and legacy (unkeyed) events appear only as a prefix followed by the
// ActionAuditChainKeyed anchor. Feed it with Add and end with Finish.
type Verifier struct {
	key       []byte
	savedHead string

	prev      string
	n, legacy int
	headFound bool
	broken    *ChainError
}

// NewVerifier returns a Verifier for a log keyed with key; with an empty key no event
// counts as keyed (an HMAC under an empty key is no secret), so no log with events
// verifies. savedHead, when not "", is
// a head saved earlier: Finish fails unless the log contains the event with that hash,
// which proves that nothing was cut off the end since it was saved.
func NewVerifier(key []byte, savedHead string) *Verifier {
	// Every log passes through the genesis hash, the saved head of an empty log.
	return &Verifier{key: key, savedHead: savedHead, prev: Genesis, headFound: savedHead == Genesis}
}

// Add verifies the next events of the log. It returns the *ChainError of the first
// broken event (its Index counts from the start of the log); after one, every call
// returns it again.
func (v *Verifier) Add(events []Link) error {
	if v.broken != nil {
		return v.broken
	}
	for _, e := range events {
		if err := v.add(e); err != nil {
			v.broken = err
			return err
		}
	}
	return nil
}

func (v *Verifier) add(e Link) *ChainError {
	broken := func(reason string) *ChainError {
		return &ChainError{Index: v.n, EventID: e.EventID, Reason: reason}
	}
	if e.PrevHash != v.prev {
		if v.n == 0 {
			return broken("prev_hash is not the genesis hash (events before it are missing)")
		}
		return broken("prev_hash does not match the hash of the event before it (an event was removed, inserted or reordered, or the one before it was changed and rehashed)")
	}
	keyed := v.n - v.legacy // keyed events seen so far
	switch {
	case len(v.key) > 0 && hmac256Equal(KeyedHashOf(v.key, e.PrevHash, e.Canonical), e.Hash):
		if keyed == 0 && v.legacy > 0 && (e.ActionName != ActionAuditChainKeyed || e.Params["legacy_head"] != e.PrevHash) {
			return broken(fmt.Sprintf("the first keyed event after %d unkeyed (legacy) ones is not the %s anchor that accepts them", v.legacy, ActionAuditChainKeyed))
		}
	case HashOf(e.PrevHash, e.Canonical) == e.Hash:
		if keyed > 0 {
			return broken("the event has an unkeyed hash after the keyed chain began (it was rewritten by someone without the chain key)")
		}
		v.legacy++
	default:
		return broken("hash does not match the event's contents under this server's chain key (the event was changed, or hashed with another key)")
	}
	v.n++
	v.prev = e.Hash
	if v.savedHead != "" && e.Hash == v.savedHead {
		v.headFound = true
	}
	return nil
}

// hmac256Equal compares two hex hashes in constant time.
func hmac256Equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Report is what Finish found.
type Report struct {
	// Events is the number of events verified intact, from the start of the log.
	Events int
	// Legacy counts the unkeyed events among them (the prefix written before the chain
	// was keyed); Keyed the others.
	Legacy, Keyed int
	// Head is the hash of the newest event verified intact, Genesis for none: the head
	// to save and pass later as savedHead.
	Head string
	// SavedHeadFound reports whether the saved head (if any) is among the events.
	SavedHeadFound bool
}

// Finish ends the verification. The error is the first *ChainError: an event that broke
// the chain, legacy events that no keyed event follows, or a saved head that the log
// does not contain. The report describes the events verified intact either way.
func (v *Verifier) Finish() (Report, error) {
	r := Report{Events: v.n, Legacy: v.legacy, Keyed: v.n - v.legacy, Head: v.prev, SavedHeadFound: v.headFound}
	if v.broken != nil {
		return r, v.broken
	}
	if v.legacy > 0 && r.Keyed == 0 {
		return r, &ChainError{Index: v.n, Reason: fmt.Sprintf("the log holds only unkeyed (legacy) hashes and no keyed %s anchor after them: it was rewritten without the chain key, or its keyed events were cut off", ActionAuditChainKeyed)}
	}
	if v.savedHead != "" && !v.headFound {
		return r, &ChainError{Index: v.n, Reason: fmt.Sprintf("the log does not contain the saved head %s: events were cut off the end since it was saved (or it is the head of another log)", v.savedHead)}
	}
	return r, nil
}

// verifyPageSize is how many events VerifyStore reads at a time.
const verifyPageSize = 1000

// VerifyStore verifies the whole log in store with key (and savedHead, as NewVerifier),
// reading it page by page so that a long log need not fit in memory. A chain problem is
// a *ChainError; any other error is the store's.
//
// It checks the log as it was when it started, in one pass in Seq order: it reads the
// newest event first and pages up to it, so that writers appending meanwhile (other
// replicas) neither keep it reading forever nor change what it reports. Every store
// draws Seq under the log's append lock, in commit order, so no event below that newest
// Seq commits after it was read.
func VerifyStore(ctx context.Context, store catalog.AuditStore, key []byte, savedHead string) (Report, error) {
	v := NewVerifier(key, savedHead)
	last, err := store.LastAudit(ctx)
	if catalog.IsNotFound(err) {
		return v.Finish()
	}
	if err != nil {
		r, _ := v.Finish()
		return r, fmt.Errorf("verify audit chain: read the newest event: %w", err)
	}
	var after int64
	for {
		page, err := store.ListAudit(ctx, catalog.AuditFilter{AfterSeq: after, Limit: verifyPageSize})
		if err != nil {
			r, _ := v.Finish()
			return r, fmt.Errorf("verify audit chain: read events: %w", err)
		}
		full := len(page) == verifyPageSize
		links := make([]Link, 0, len(page))
		for _, e := range page {
			if e.Seq > last.Seq {
				full = false // past the newest event when verification began
				break
			}
			links = append(links, LinkOf(e))
		}
		if err := v.Add(links); err != nil {
			return v.Finish()
		}
		if !full || page[len(page)-1].Seq == last.Seq {
			return v.Finish()
		}
		after = page[len(page)-1].Seq
	}
}
