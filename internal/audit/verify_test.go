package audit_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/audit"
	"github.com/gatehouse/gatehouse/internal/catalog"
)

var (
	testKey  = mustChainKey(bytes.Repeat([]byte{7}, 32))
	otherKey = mustChainKey(bytes.Repeat([]byte{8}, 32))
)

func mustChainKey(master []byte) []byte {
	k, err := audit.ChainKey(master)
	if err != nil {
		panic(err)
	}
	return k
}

func TestChainKey(t *testing.T) {
	a, b := mustChainKey(bytes.Repeat([]byte{1}, 32)), mustChainKey(bytes.Repeat([]byte{1}, 32))
	if len(a) != 32 || !bytes.Equal(a, b) {
		t.Errorf("ChainKey: %d bytes, deterministic %v; want 32 bytes, the same for the same master key", len(a), bytes.Equal(a, b))
	}
	if bytes.Equal(a, bytes.Repeat([]byte{1}, 32)) || bytes.Equal(a, testKey) {
		t.Errorf("ChainKey is the master key, or the same for two master keys")
	}
	if _, err := audit.ChainKey([]byte("short")); err == nil {
		t.Errorf("ChainKey of a 5-byte master key succeeded")
	}
	c := sampleCanonical()
	if audit.KeyedHashOf(testKey, audit.Genesis, c) == audit.HashOf(audit.Genesis, c) ||
		audit.KeyedHashOf(testKey, audit.Genesis, c) == audit.KeyedHashOf(otherKey, audit.Genesis, c) {
		t.Errorf("keyed hash equals the unkeyed one or another key's")
	}
}

// keyedChain builds a valid chain of n links whose first legacy ones are unkeyed and
// the others keyed with key, the first of which is the anchor of the legacy ones.
func keyedChain(n, legacy int, key []byte) []audit.Link {
	l := chain(n)
	prev := audit.Genesis
	for i := range l {
		l[i].PrevHash = prev
		if i == legacy && legacy > 0 {
			l[i].ActionName = audit.ActionAuditChainKeyed
			l[i].Params = map[string]string{"legacy_head": prev, "chain": "hmac-sha256"}
		}
		if i < legacy {
			l[i].Hash = audit.HashOf(prev, l[i].Canonical)
		} else {
			l[i].Hash = audit.KeyedHashOf(key, prev, l[i].Canonical)
		}
		prev = l[i].Hash
	}
	return l
}

// rehash recomputes the hashes from index i on: unkeyed when key is nil.
func rehash(l []audit.Link, i int, key []byte) []audit.Link {
	for ; i < len(l); i++ {
		if i > 0 {
			l[i].PrevHash = l[i-1].Hash
		}
		if key == nil {
			l[i].Hash = audit.HashOf(l[i].PrevHash, l[i].Canonical)
		} else {
			l[i].Hash = audit.KeyedHashOf(key, l[i].PrevHash, l[i].Canonical)
		}
	}
	return l
}

// TestVerifierKeyed is the permanent table of attacks on a keyed chain by someone who
// can write the store but does not hold the master key.
func TestVerifierKeyed(t *testing.T) {
	tests := []struct {
		name       string
		log        func() []audit.Link
		savedHead  func(orig []audit.Link) string
		wantIndex  int // -1: intact
		wantWhy    string
		wantLegacy int
	}{
		{name: "keyed from genesis", log: func() []audit.Link { return keyedChain(6, 0, testKey) }, wantIndex: -1},
		{name: "empty log", log: func() []audit.Link { return nil }, wantIndex: -1},
		{name: "legacy prefix then keyed", log: func() []audit.Link { return keyedChain(6, 3, testKey) }, wantIndex: -1, wantLegacy: 3},
		{name: "field changed", log: func() []audit.Link {
			l := keyedChain(6, 0, testKey)
			l[2].Principal = "mallory"
			return l
		}, wantIndex: 2, wantWhy: "changed"},
		{name: "field changed, rest rehashed unkeyed", log: func() []audit.Link {
			l := keyedChain(6, 0, testKey)
			l[2].Decision = "ALLOW"
			return rehash(l, 2, nil)
		}, wantIndex: 2, wantWhy: "unkeyed hash after the keyed chain began"},
		{name: "whole log rewritten unkeyed", log: func() []audit.Link {
			l := keyedChain(6, 2, testKey)
			l[4].Decision = "ALLOW"
			return rehash(l, 0, nil)
		}, wantIndex: 6, wantWhy: "only unkeyed"},
		{name: "field changed, rest rehashed with another key", log: func() []audit.Link {
			l := keyedChain(6, 0, testKey)
			l[3].Connection = "other"
			return rehash(l, 3, otherKey)
		}, wantIndex: 3, wantWhy: "another key"},
		{name: "whole log keyed with another key", log: func() []audit.Link { return keyedChain(4, 0, otherKey) }, wantIndex: 0, wantWhy: "another key"},
		{name: "legacy event changed, legacy prefix rehashed", log: func() []audit.Link {
			l := keyedChain(6, 3, testKey)
			l[1].Principal = "mallory"
			l = rehash(l[:3], 0, nil)
			return append(l, keyedChain(6, 3, testKey)[3:]...)
		}, wantIndex: 3, wantWhy: "prev_hash does not match"},
		{name: "legacy then keyed without the anchor", log: func() []audit.Link {
			l := keyedChain(6, 3, testKey)
			l[3].ActionName = catalog.ActionUseConnection
			return rehash(l, 3, testKey)
		}, wantIndex: 3, wantWhy: "not the auditChainKeyed anchor"},
		{name: "anchor names another legacy head", log: func() []audit.Link {
			l := keyedChain(6, 3, testKey)
			l[3].Params = map[string]string{"legacy_head": audit.Genesis}
			return rehash(l, 3, testKey)
		}, wantIndex: 3, wantWhy: "not the auditChainKeyed anchor"},
		{name: "keyed events cut, legacy left", log: func() []audit.Link { return keyedChain(6, 3, testKey)[:3] }, wantIndex: 3, wantWhy: "only unkeyed"},
		{name: "unkeyed event appended", log: func() []audit.Link {
			l := keyedChain(4, 0, testKey)
			extra := chain(5)[4]
			extra.PrevHash = l[3].Hash
			extra.Hash = audit.HashOf(extra.PrevHash, extra.Canonical)
			return append(l, extra)
		}, wantIndex: 4, wantWhy: "unkeyed hash after the keyed chain began"},
		{name: "middle removed", log: func() []audit.Link {
			l := keyedChain(6, 0, testKey)
			return append(l[:2], l[3:]...)
		}, wantIndex: 2, wantWhy: "removed"},
		{name: "saved head present", log: func() []audit.Link { return keyedChain(6, 0, testKey) },
			savedHead: func(o []audit.Link) string { return o[3].Hash }, wantIndex: -1},
		{name: "saved head is the last", log: func() []audit.Link { return keyedChain(6, 1, testKey) },
			savedHead: func(o []audit.Link) string { return o[5].Hash }, wantIndex: -1, wantLegacy: 1},
		{name: "last events cut off after the head was saved", log: func() []audit.Link { return keyedChain(6, 0, testKey)[:4] },
			savedHead: func(o []audit.Link) string { return keyedChain(6, 0, testKey)[5].Hash }, wantIndex: 4, wantWhy: "does not contain the saved head"},
		{name: "saved head of another log", log: func() []audit.Link { return keyedChain(6, 0, testKey) },
			savedHead: func(o []audit.Link) string { return strings.Repeat("ab", 32) }, wantIndex: 6, wantWhy: "cut off the end"},
		{name: "genesis saved for an empty log", log: func() []audit.Link { return keyedChain(2, 0, testKey) },
			savedHead: func(o []audit.Link) string { return audit.Genesis }, wantIndex: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.log()
			saved := ""
			if tt.savedHead != nil {
				saved = tt.savedHead(l)
			}
			// Whole, and in pages of two: the same verdict.
			for _, page := range []int{len(l) + 1, 2} {
				v := audit.NewVerifier(testKey, saved)
				for i := 0; i < len(l); i += page {
					if v.Add(l[i:min(i+page, len(l))]) != nil {
						break
					}
				}
				r, err := v.Finish()
				if tt.wantIndex < 0 {
					if err != nil {
						t.Fatalf("pages of %d: Finish = %v, want intact", page, err)
					}
					if r.Events != len(l) || r.Legacy != tt.wantLegacy || r.Keyed != len(l)-tt.wantLegacy {
						t.Errorf("report %+v, want %d events, %d legacy", r, len(l), tt.wantLegacy)
					}
					if want := audit.Genesis; len(l) > 0 {
						want = l[len(l)-1].Hash
						if r.Head != want {
							t.Errorf("head %s, want %s", r.Head, want)
						}
					} else if r.Head != want {
						t.Errorf("head of an empty log %s, want genesis", r.Head)
					}
					if saved != "" && !r.SavedHeadFound {
						t.Errorf("SavedHeadFound false on an intact log containing it")
					}
					continue
				}
				var ce *audit.ChainError
				if !errors.As(err, &ce) {
					t.Fatalf("pages of %d: Finish = %+v, %v; want a *ChainError", page, r, err)
				}
				if ce.Index != tt.wantIndex || !strings.Contains(ce.Error(), tt.wantWhy) {
					t.Errorf("pages of %d: %v; want index %d and %q", page, ce, tt.wantIndex, tt.wantWhy)
				}
				if r.Events != min(tt.wantIndex, len(l)) {
					t.Errorf("report counts %d events intact, want %d", r.Events, tt.wantIndex)
				}
			}
		})
	}
}

// TestRecorderKeysLegacyLog: a keyed recorder on a log written without a key anchors
// the legacy prefix with one keyed auditChainKeyed event and keys every event after it;
// a later keyed recorder adds no second anchor; and the whole log verifies with the
// key, and only with it.
func TestRecorderKeysLegacyLog(t *testing.T) {
	db, _ := openStore(t)
	ctx := t.Context()
	record := func(opts audit.Options, from, n int) {
		r, err := audit.New(db, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			r.Record(ctx, event(from+i))
		}
		if err := r.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	record(audit.Options{}, 0, 3)
	// Without the operator's word a keyed recorder refuses the unkeyed log: a log
	// rewritten without the key would look just the same.
	if _, err := audit.New(db, nil, audit.Options{ChainKey: testKey}); !errors.Is(err, audit.ErrUnkeyedLog) || !strings.Contains(err.Error(), "--audit-anchor-legacy-chain") {
		t.Fatalf("keyed New on an unkeyed log = %v, want ErrUnkeyedLog naming --audit-anchor-legacy-chain", err)
	}
	if n := len(listAll(t, db)); n != 3 {
		t.Fatalf("the refusal wrote: %d events, want 3", n)
	}
	record(audit.Options{ChainKey: testKey, AnchorLegacy: true}, 10, 2)
	record(audit.Options{ChainKey: testKey}, 20, 2)

	all := listAll(t, db)
	if len(all) != 8 {
		t.Fatalf("log holds %d events, want 3 legacy + 1 anchor + 4", len(all))
	}
	anchor := all[3]
	if anchor.ActionName != audit.ActionAuditChainKeyed || anchor.Params["legacy_head"] != all[2].Hash || anchor.PrevHash != all[2].Hash {
		t.Errorf("event 3 = %+v, want the auditChainKeyed anchor following the legacy head", anchor)
	}
	for _, e := range all[4:] {
		if e.ActionName == audit.ActionAuditChainKeyed {
			t.Errorf("a second anchor %s on an already keyed log", e.EventID)
		}
	}
	r, err := audit.VerifyStore(ctx, db, testKey, all[5].Hash)
	if err != nil || r.Events != 8 || r.Legacy != 3 || r.Keyed != 5 || r.Head != all[7].Hash || !r.SavedHeadFound {
		t.Errorf("VerifyStore = %+v, %v; want 8 intact events, 3 legacy, head %s", r, err, all[7].Hash)
	}
	if _, err := audit.VerifyStore(ctx, db, otherKey, ""); err == nil || !strings.Contains(err.Error(), "another key") {
		t.Errorf("VerifyStore with another key = %v, want a break naming another key", err)
	}
	if _, err := audit.VerifyStore(ctx, db, nil, ""); err == nil {
		t.Errorf("VerifyStore without a key passes")
	}

	// Rewriting a keyed event and every later hash without the key fails, whether
	// rehashed unkeyed or with another key.
	for _, key := range [][]byte{nil, otherKey} {
		tampered := make([]audit.Link, len(all))
		for i, e := range all {
			tampered[i] = audit.LinkOf(e)
		}
		tampered[5].Decision = catalog.DecisionDeny
		tampered = rehash(tampered, 5, key)
		v := audit.NewVerifier(testKey, "")
		_ = v.Add(tampered)
		if _, err := v.Finish(); err == nil {
			t.Errorf("a log rewritten from event 5 with key %x verifies", key)
		}
	}
}

// TestRecorderKeyedLogsForeignHead: a keyed recorder whose log ends with an event that
// matches neither hash says so in the log and keeps recording.
func TestRecorderKeyedLogsForeignHead(t *testing.T) {
	db, _ := openStore(t)
	ctx := t.Context()
	r, err := audit.New(db, nil, audit.Options{ChainKey: otherKey})
	if err != nil {
		t.Fatal(err)
	}
	r.Record(ctx, event(0))
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	log, logs := bufferLog()
	r2 := newRecorder(t, db, log, audit.Options{ChainKey: testKey})
	r2.Record(ctx, event(1))
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r2.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "matches neither") {
		t.Errorf("log does not report the foreign head:\n%s", logs.String())
	}
	if n := len(listAll(t, db)); n != 2 {
		t.Errorf("log holds %d events, want 2 (no anchor after a foreign head)", n)
	}
}

// FuzzVerifierDetectsEdits: whatever one field of one event is changed to, and however
// the hashes after it are recomputed without the chain key (not at all, unkeyed, or
// under another key), and wherever the log is cut, the keyed verification with the
// saved head of the original log fails; the original log passes.
func FuzzVerifierDetectsEdits(f *testing.F) {
	f.Add(uint8(2), uint8(0), "mallory", uint8(0), uint8(6), uint8(0))
	f.Add(uint8(0), uint8(1), "DENY", uint8(1), uint8(6), uint8(2))
	f.Add(uint8(4), uint8(2), "", uint8(2), uint8(6), uint8(0))
	f.Add(uint8(1), uint8(3), "/admin", uint8(1), uint8(6), uint8(2))
	f.Add(uint8(0), uint8(0), "", uint8(0), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, idx, field uint8, value string, mode, keep, legacy uint8) {
		const n = 6
		legacyN := int(legacy % 3)
		orig := keyedChain(n, legacyN, testKey)
		saved := orig[n-1].Hash
		if _, err := verifyAll(orig, saved); err != nil {
			t.Fatalf("the original log fails: %v", err)
		}
		l := keyedChain(n, legacyN, testKey)
		i := int(idx) % n
		changed := false
		set := func(p *string) {
			if *p != value {
				*p, changed = value, true
			}
		}
		switch field % 4 {
		case 0:
			set(&l[i].Principal)
		case 1:
			set(&l[i].Decision)
		case 2:
			set(&l[i].Connection)
		case 3:
			p := map[string]string{}
			for k, v := range l[i].Params {
				p[k] = v
			}
			old, had := p["path"]
			p["path"] = value
			changed = !had || old != value
			l[i].Params = p
		}
		switch mode % 3 {
		case 1:
			l = rehash(l, i, nil)
		case 2:
			l = rehash(l, i, otherKey)
		}
		if k := int(keep) % (n + 1); k < n {
			l, changed = l[:k], true
		}
		if !changed {
			return
		}
		if r, err := verifyAll(l, saved); err == nil {
			t.Fatalf("an edited log verifies: event %d field %d = %q, mode %d, kept %d: %+v", i, field%4, value, mode%3, len(l), r)
		}
	})
}

func verifyAll(l []audit.Link, saved string) (audit.Report, error) {
	v := audit.NewVerifier(testKey, saved)
	_ = v.Add(l)
	return v.Finish()
}

// BenchmarkChainHash compares the unkeyed and the keyed hash of one event: the cost the
// key adds to the background writer, per event.
func BenchmarkChainHash(b *testing.B) {
	c := sampleCanonical()
	b.Run("unkeyed", func(b *testing.B) {
		for b.Loop() {
			audit.HashOf(audit.Genesis, c)
		}
	})
	b.Run("keyed", func(b *testing.B) {
		for b.Loop() {
			audit.KeyedHashOf(testKey, audit.Genesis, c)
		}
	})
}
