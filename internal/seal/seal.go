// Package seal encrypts Gatehouse's secrets at rest (bearer tokens, client secrets,
// OAuth access and refresh tokens) with envelope encryption.
//
// A 32-byte master key, which lives outside the store (GATEHOUSE_MASTER_KEY or a key
// file, see LoadMasterKey), protects a Keyring of data keys; the primary data key seals
// each secret with AES-256-GCM. The keyring is stored next to the data, but only in the
// form Keyring.Export produces, so a copy of the database alone reveals no secret.
//
// Every ciphertext is bound, through GCM's additional authenticated data, to where it
// lives: the securable (connection) id, the field and the principal (see AAD). A
// ciphertext copied into another row, another field or another user's slot therefore
// fails to open instead of handing one user's token to another.
//
// Rotation (Keyring.Rotate) adds a new primary data key and keeps the old ones, so that
// everything sealed earlier still opens; Keyring.KeyIDOf tells a re-wrap job which
// ciphertexts still use an old key.
//
// Nothing in this package logs, panics on bad input, or puts key material or plaintext
// into an error or a String result.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Ciphertext format (version 1), as produced by Keyring.Seal:
//
//	0x01 | len(keyID) (1 byte, 1..64) | keyID | nonce (12 bytes) | GCM ciphertext || tag (16 bytes)
//
// The key id is printable ([0-9A-Za-z_-]) so that it may appear in error messages. The
// header is not secret, but it is authenticated: the version and key id are part of the
// GCM additional data (see AAD.encode), so no header byte can change undetected.
const (
	formatVersion  byte = 0x01
	keySize             = 32 // AES-256
	nonceSize           = 12 // the GCM standard nonce; random nonces are safe for 2^32 seals per key
	tagSize             = 16
	keyIDBytes          = 4 // random bytes in a generated key id (8 hex characters)
	maxKeyIDLen         = 64
	headerFixedLen      = 2 // version + key id length
)

// aadLabel separates the additional data of sealed secrets from every other use of
// these keys (the keyring export uses its own label), so that a ciphertext can never be
// accepted in a context it was not made for.
const aadLabel = "gatehouse/v1 secret"

// Errors that Open and KeyIDOf wrap, for use with errors.Is. The messages never contain
// the ciphertext or the plaintext.
var (
	// ErrMalformed reports input that is not a ciphertext in the format Seal produces.
	ErrMalformed = errors.New("malformed ciphertext")
	// ErrUnknownKey reports a well-formed ciphertext sealed with a data key that is not in
	// the keyring (for example one sealed under another Gatehouse's keyring).
	ErrUnknownKey = errors.New("ciphertext was sealed with a data key that is not in this keyring")
	// ErrAuthentication reports a ciphertext that does not authenticate: it was altered,
	// or it was moved to another securable, field or principal than it was sealed for.
	ErrAuthentication = errors.New("ciphertext does not authenticate (altered, or moved to another securable, field or principal)")
)

// AAD says where a sealed secret lives. It is authenticated with the ciphertext but not
// stored in it: Open must be given the same AAD that Seal was, so a ciphertext copied to
// another row, field or principal fails to open.
type AAD struct {
	// SecurableID is the id of the object that owns the secret (a connection id). It
	// must not be empty.
	SecurableID string
	// Field names the secret within the securable ("bearer_token", "refresh_token",
	// ...). It must not be empty.
	Field string
	// Principal is the principal the secret belongs to, or "" for a secret shared by
	// every grantee of the securable.
	Principal string
}

// validate refuses an AAD that binds a secret to nothing in particular: with an empty
// SecurableID or Field, every row (or every field) would share the same binding, which
// is exactly the swap the AAD is there to stop, and usually means a caller forgot to
// fill it in.
func (a AAD) validate() error {
	switch {
	case a.SecurableID == "":
		return errors.New("additional data has an empty SecurableID; a secret must be bound to the securable it belongs to")
	case a.Field == "":
		return errors.New("additional data has an empty Field; a secret must be bound to the field it is stored in")
	}
	return nil
}

// encode returns the GCM additional data for a secret: the label, a zero byte, the
// format version, then the key id, SecurableID, Field and Principal, each preceded by
// its length as 8 bytes big-endian. The length prefixes make the encoding unambiguous
// (("ab","c") and ("a","bc") differ); including the version and key id authenticates
// the ciphertext header as well.
func (a AAD) encode(version byte, keyID string) []byte {
	fields := [...]string{keyID, a.SecurableID, a.Field, a.Principal}
	n := len(aadLabel) + 2
	for _, s := range fields {
		n += 8 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, aadLabel...)
	b = append(b, 0, version)
	for _, s := range fields {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// dataKey is one data key of a keyring. The Keyring holds dataKeys only through
// pointers so that even printing a Keyring by reflection (%#v of the struct) shows
// addresses, never key bytes.
type dataKey struct {
	id   string
	raw  []byte // kept only so that Export can wrap it
	aead cipher.AEAD
}

func newDataKey(id string, raw []byte) (*dataKey, error) {
	if len(raw) != keySize {
		return nil, fmt.Errorf("data key %s has %d bytes, want %d", id, len(raw), keySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{id: id, raw: raw, aead: aead}, nil
}

// Keyring holds the data keys that seal secrets: one primary key that seals new
// secrets, and every older key, which still opens what it sealed. A Keyring is safe for
// concurrent use. Make one with NewKeyring or ImportKeyring.
type Keyring struct {
	mu      sync.RWMutex
	keys    map[string]*dataKey
	order   []string // key ids, oldest first
	primary string
}

// NewKeyring returns a keyring with one fresh random data key as its primary.
func NewKeyring() (*Keyring, error) {
	k := &Keyring{}
	if _, err := k.Rotate(); err != nil {
		return nil, fmt.Errorf("new keyring: %w", err)
	}
	return k, nil
}

// Rotate adds a fresh random data key and makes it the primary, so that Seal uses it
// from now on. Older keys stay in the keyring and still open what they sealed; re-seal
// those ciphertexts (see KeyIDOf) before dropping a key is ever considered. Rotate
// returns the new key's id.
func (k *Keyring) Rotate() (newID string, err error) {
	raw := make([]byte, keySize)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("rotate keyring: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = make(map[string]*dataKey)
	}
	// Ids are short, so a collision is possible in a very long-lived keyring; pick again
	// rather than shadow a key that still opens old data.
	for range 16 {
		id, err := newKeyID()
		if err != nil {
			return "", fmt.Errorf("rotate keyring: %w", err)
		}
		if _, taken := k.keys[id]; taken {
			continue
		}
		dk, err := newDataKey(id, raw)
		if err != nil {
			return "", fmt.Errorf("rotate keyring: %w", err)
		}
		k.keys[id] = dk
		k.order = append(k.order, id)
		k.primary = id
		return id, nil
	}
	return "", errors.New("rotate keyring: could not pick an unused key id")
}

func newKeyID() (string, error) {
	b := make([]byte, keyIDBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// PrimaryID returns the id of the data key that Seal uses, or "" for a Keyring that
// has no keys.
func (k *Keyring) PrimaryID() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.primary
}

// Seal encrypts plaintext with AES-256-GCM under the primary data key and a fresh
// random nonce, binding it to aad. The result is in the format described at
// formatVersion and opens only with Open and the same aad.
func (k *Keyring) Seal(plaintext []byte, aad AAD) ([]byte, error) {
	if err := aad.validate(); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	k.mu.RLock()
	dk := k.keys[k.primary]
	k.mu.RUnlock()
	if dk == nil {
		return nil, errors.New("seal secret: keyring has no primary data key")
	}

	hdr := headerFixedLen + len(dk.id)
	out := make([]byte, hdr+nonceSize, hdr+nonceSize+len(plaintext)+dk.aead.Overhead())
	out[0] = formatVersion
	out[1] = byte(len(dk.id))
	copy(out[headerFixedLen:], dk.id)
	nonce := out[hdr : hdr+nonceSize]
	// A random nonce per seal: GCM loses both confidentiality and integrity if a nonce
	// is ever reused under one key, and a counter would need state shared across
	// replicas. 96 random bits keep the collision risk negligible for 2^32 seals per key,
	// far more than rotation lets any key see.
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal secret: %w", err)
	}
	return dk.aead.Seal(out, nonce, plaintext, aad.encode(formatVersion, dk.id)), nil
}

// Open authenticates and decrypts a ciphertext made by Seal, with the same aad. It
// returns an error wrapping ErrMalformed, ErrUnknownKey or ErrAuthentication for
// anything it cannot open, and never returns partial plaintext.
func (k *Keyring) Open(ciphertext []byte, aad AAD) ([]byte, error) {
	id, nonce, body, err := parse(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	if err := aad.validate(); err != nil {
		return nil, fmt.Errorf("open secret: %w", err)
	}
	k.mu.RLock()
	dk := k.keys[id]
	k.mu.RUnlock()
	if dk == nil {
		return nil, fmt.Errorf("open secret: %w (key id %s)", ErrUnknownKey, id)
	}
	plaintext, err := dk.aead.Open(nil, nonce, body, aad.encode(formatVersion, id))
	if err != nil {
		return nil, fmt.Errorf("open secret: %w", ErrAuthentication)
	}
	if plaintext == nil {
		plaintext = []byte{} // an empty secret opens as empty, not nil
	}
	return plaintext, nil
}

// KeyIDOf returns the id of the data key that sealed ciphertext, read from its header,
// without opening it; a re-wrap job re-seals every ciphertext whose id is not
// PrimaryID. The id is returned even when the key is not in this keyring; Open then
// reports ErrUnknownKey. KeyIDOf proves nothing about authenticity.
func (k *Keyring) KeyIDOf(ciphertext []byte) (string, error) {
	id, _, _, err := parse(ciphertext)
	if err != nil {
		return "", fmt.Errorf("read key id: %w", err)
	}
	return id, nil
}

// parse splits a ciphertext into its key id, nonce and GCM body, checking every length
// before slicing so that no input can make it panic.
func parse(c []byte) (id string, nonce, body []byte, err error) {
	if len(c) < headerFixedLen {
		return "", nil, nil, fmt.Errorf("%w: too short (%d bytes)", ErrMalformed, len(c))
	}
	if c[0] != formatVersion {
		return "", nil, nil, fmt.Errorf("%w: unknown format version 0x%02x", ErrMalformed, c[0])
	}
	n := int(c[1])
	if n == 0 || n > maxKeyIDLen {
		return "", nil, nil, fmt.Errorf("%w: key id length %d is out of range 1..%d", ErrMalformed, n, maxKeyIDLen)
	}
	if len(c) < headerFixedLen+n+nonceSize+tagSize {
		return "", nil, nil, fmt.Errorf("%w: too short (%d bytes)", ErrMalformed, len(c))
	}
	id = string(c[headerFixedLen : headerFixedLen+n])
	if !validKeyID(id) {
		return "", nil, nil, fmt.Errorf("%w: key id has characters outside [0-9A-Za-z_-]", ErrMalformed)
	}
	nonce = c[headerFixedLen+n : headerFixedLen+n+nonceSize]
	body = c[headerFixedLen+n+nonceSize:]
	return id, nonce, body, nil
}

// validKeyID reports whether id is 1..64 characters of [0-9A-Za-z_-]. Ids appear in
// error messages and in String, so they are kept to a printable alphabet.
func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// String describes the keyring by its key ids only, never key material, for example
// "seal.Keyring{primary: 9f2c01ab, keys: [11aa22bb 9f2c01ab]}".
func (k *Keyring) String() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return fmt.Sprintf("seal.Keyring{primary: %s, keys: [%s]}", k.primary, strings.Join(k.order, " "))
}

// GoString is String, so that %#v shows key ids rather than the keyring's fields.
func (k *Keyring) GoString() string { return k.String() }
