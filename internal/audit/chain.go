package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/internal/catalog"
)

// Genesis is the prev_hash of the first event of a log: 64 zeros, the width of a hex
// SHA-256.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// hashDomain starts every hashed message, so that an audit hash can never be mistaken
// for (or made to collide with) a SHA-256 of something else, and so that a future
// encoding can change the version.
const hashDomain = "gatehouse-audit-v1\x00"

// Canonical is what an audit event's hash covers: every field of the event as the API
// shows it (AuditEventInfo in internal/httpapi), so that anyone holding the API's JSON
// can recompute the hash. EventTime is in epoch milliseconds, as the API shows it.
// A nil and an empty Params hash the same, as do a missing and an empty connection.
type Canonical struct {
	EventID    string
	EventTime  int64 // epoch milliseconds
	ActionName string
	Principal  string
	SourceIP   string
	RequestID  string
	Connection string
	Params     map[string]string
	StatusCode int
	ErrorCode  string
	Decision   string
}

// Link is one event of the chain: its canonical fields and the two hashes that chain it
// to the event before it.
type Link struct {
	Canonical
	PrevHash string
	Hash     string
}

// HashOf returns the hash of an event whose predecessor's hash is prevHash: the
// lower-case hex SHA-256 of this message (fields in this order, no separators):
//
//	"gatehouse-audit-v1" 0x00
//	str(prevHash) str(EventID) int(EventTime) str(ActionName) str(Principal)
//	str(SourceIP) str(RequestID) str(Connection)
//	int(len(Params)) then, for each key in ascending byte order, str(key) str(value)
//	int(StatusCode) str(ErrorCode) str(Decision)
//
// where str(s) is len(s) as an 8-byte big-endian unsigned integer followed by the bytes
// of s, and int(n) is n as an 8-byte big-endian two's-complement integer. Every string
// carries its length, so no choice of field values can make two different events encode
// the same (as "a"+"bc" and "ab"+"c" would without lengths).
func HashOf(prevHash string, c Canonical) string {
	sum := sha256.Sum256(encode(hashDomain, prevHash, c))
	return hex.EncodeToString(sum[:])
}

// keyedHashDomain starts the message of a keyed hash. It differs from hashDomain so
// that no keyed and unkeyed hash are ever computed over the same bytes.
const keyedHashDomain = "gatehouse-audit-v2\x00"

// KeyedHashOf returns the keyed hash of an event whose predecessor's hash is prevHash:
// the lower-case hex HMAC-SHA256 under key of the same message as HashOf's, but starting
// with "gatehouse-audit-v2" 0x00. key is the chain key (ChainKey). Without the key
// nobody can compute it, so someone who can write the store but does not hold the
// master key cannot change an event and rehash the chain after it.
func KeyedHashOf(key []byte, prevHash string, c Canonical) string {
	return newKeyedHasher(key).sum(prevHash, c)
}

// keyedHasher computes KeyedHashOf with one HMAC state kept between events, so that
// the key's padded blocks are hashed once, not once per event. Not safe for concurrent
// use: the recorder's one writer owns one.
type keyedHasher struct {
	m   hash.Hash
	buf []byte
}

func newKeyedHasher(key []byte) *keyedHasher { return &keyedHasher{m: hmac.New(sha256.New, key)} }

func (k *keyedHasher) sum(prevHash string, c Canonical) string {
	k.m.Reset()
	k.m.Write(encode(keyedHashDomain, prevHash, c))
	k.buf = k.m.Sum(k.buf[:0])
	return hex.EncodeToString(k.buf)
}

// ChainKeyInfo is the HKDF info label of the chain key: a key derived for this one
// purpose, so that it is never the master key itself nor any other key derived from it.
const ChainKeyInfo = "gatehouse audit chain v1"

// ChainKey derives the key of the audit hash chain from the master key: HKDF-SHA256
// (RFC 5869) with no salt and the info label ChainKeyInfo, 32 bytes. Every server of a
// deployment holds the same master key and so derives the same chain key.
func ChainKey(master []byte) ([]byte, error) {
	if len(master) < 16 {
		return nil, fmt.Errorf("audit chain key: the master key is too short")
	}
	k, err := hkdf.Key(sha256.New, master, nil, ChainKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("audit chain key: %w", err)
	}
	return k, nil
}

// encode is the message that HashOf and KeyedHashOf hash, after the domain.
func encode(domain, prevHash string, c Canonical) []byte {
	n := len(domain) + 8*16 + len(prevHash) + len(c.EventID) + len(c.ActionName) + len(c.Principal) +
		len(c.SourceIP) + len(c.RequestID) + len(c.Connection) + len(c.ErrorCode) + len(c.Decision)
	for k, v := range c.Params {
		n += 16 + len(k) + len(v)
	}
	b := make([]byte, 0, n)
	str := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	num := func(i int64) { b = binary.BigEndian.AppendUint64(b, uint64(i)) }

	b = append(b, domain...)
	str(prevHash)
	str(c.EventID)
	num(c.EventTime)
	str(c.ActionName)
	str(c.Principal)
	str(c.SourceIP)
	str(c.RequestID)
	str(c.Connection)
	num(int64(len(c.Params)))
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		str(k)
		str(c.Params[k])
	}
	num(int64(c.StatusCode))
	str(c.ErrorCode)
	str(c.Decision)
	return b
}

// LinkOf returns the chain view of a stored event: its time in epoch milliseconds (0 for
// the zero time, as the API shows it) and its other fields as they are.
func LinkOf(e *catalog.AuditEvent) Link {
	var ms int64
	if !e.EventTime.IsZero() {
		ms = e.EventTime.UnixMilli()
	}
	return Link{
		Canonical: Canonical{
			EventID:    e.EventID,
			EventTime:  ms,
			ActionName: e.ActionName,
			Principal:  e.Principal,
			SourceIP:   e.SourceIP,
			RequestID:  e.RequestID,
			Connection: e.Connection,
			Params:     e.Params,
			StatusCode: e.StatusCode,
			ErrorCode:  e.ErrorCode,
			Decision:   e.Decision,
		},
		PrevHash: e.PrevHash,
		Hash:     e.Hash,
	}
}

// ChainError is the first broken link that Verify found.
type ChainError struct {
	// Index is the position of the broken event in the verified slice.
	Index int
	// EventID is the broken event's ID.
	EventID string
	// Reason says what does not match.
	Reason string
}

func (e *ChainError) Error() string {
	if e.EventID == "" {
		return fmt.Sprintf("audit chain broken after %d events: %s", e.Index, e.Reason)
	}
	return fmt.Sprintf("audit chain broken at event #%d (event_id %s): %s", e.Index, e.EventID, e.Reason)
}

// Verify checks a whole log, oldest event first (as the API lists it): the first event
// must follow Genesis, each event's prev_hash must be the hash of the event before it,
// and each hash must be the hash of its event's contents. It returns the number of
// events that verified; on a break, that number is the index of the first broken event
// and the error is a *ChainError naming it.
//
// A changed field shows as a hash that does not match at that event; a removed, inserted
// or reordered event as a prev_hash that does not match at the event after the gap. The
// chain proves the log consistent with itself, not with the past: someone who can write
// the store can recompute every later hash. This checks the unkeyed (legacy) chain
// only; servers key theirs, and Verifier checks that. Keep a copy of a recent hash
// elsewhere (the recorder logs the head of the chain when it closes) to detect that
// events were cut off the end.
func Verify(events []Link) (int, error) {
	return VerifyFrom(Genesis, events)
}

// VerifyFrom is Verify for a part of the log: prevHash is the hash of the event just
// before events[0] (Genesis for the start of the log). Verifying a log page by page with
// the last hash of each page as the next page's prevHash is the same as verifying it
// whole.
func VerifyFrom(prevHash string, events []Link) (int, error) {
	for i, e := range events {
		if e.PrevHash != prevHash {
			what := "prev_hash does not match the hash of the event before it (an event was removed, inserted or reordered, or the one before it was changed and rehashed)"
			if i == 0 && prevHash == Genesis {
				what = "prev_hash is not the genesis hash (events before it are missing)"
			}
			return i, &ChainError{Index: i, EventID: e.EventID, Reason: what}
		}
		if HashOf(e.PrevHash, e.Canonical) != e.Hash {
			return i, &ChainError{Index: i, EventID: e.EventID, Reason: "hash does not match the event's contents (the event was changed)"}
		}
		prevHash = e.Hash
	}
	return len(events), nil
}

// HMAC returns "hmac-sha256:<hex>" of secret under key: how a secret appears in an audit
// record where it must be matched (which token was used, whether a secret changed)
// without being revealed. A keyed hash rather than a plain one, because a plain SHA-256
// of a short or guessable secret can be reversed by trying candidates; key should be a
// deployment secret that audit readers do not hold.
func HMAC(key []byte, secret string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(secret))
	return "hmac-sha256:" + hex.EncodeToString(m.Sum(nil))
}
