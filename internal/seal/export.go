package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Keyring export format (version 1), JSON as produced by Keyring.Export:
//
//	{"format": "gatehouse-keyring", "version": 1, "master_key_fingerprint": "<8 hex>",
//	 "primary": "<key id>", "keys": [{"id": "<key id>", "sealed": "<base64 of nonce(12) | AES-256-GCM(data key) || tag>"}, ...]}
//
// Each data key is sealed under the master key with its own random nonce; the GCM
// additional data is wrapAAD(id, isPrimary). The fingerprint is only there to tell a
// wrong master key from a damaged keyring; it is not trusted for anything else.
const (
	exportFormat  = "gatehouse-keyring"
	exportVersion = 1
	// maxExportKeys bounds the work ImportKeyring does for an untrusted blob; a keyring
	// rotated daily for decades stays far below it.
	maxExportKeys = 1 << 16
)

// wrapLabel separates the additional data of wrapped data keys from that of sealed
// secrets, so neither can be passed off as the other even under the same AES key.
const wrapLabel = "gatehouse/v1 keyring data key"

// ErrWrongMasterKey reports that ImportKeyring was given another master key than the
// one that sealed the keyring. The wrapping error names both fingerprints.
var ErrWrongMasterKey = errors.New("master key does not match the one that sealed this keyring")

type exportedKeyring struct {
	Format               string        `json:"format"`
	Version              int           `json:"version"`
	MasterKeyFingerprint string        `json:"master_key_fingerprint"`
	Primary              string        `json:"primary"`
	Keys                 []exportedKey `json:"keys"`
}

type exportedKey struct {
	ID     string `json:"id"`
	Sealed []byte `json:"sealed"` // nonce | GCM ciphertext || tag; base64 in JSON
}

// wrapAAD is the additional data of a wrapped data key: the label, a zero byte, the
// export version, the key id (length-prefixed) and whether it is the primary. Binding
// the id stops a wrapped key from being relabelled as another; binding the primary flag
// stops anyone who can edit the stored blob but lacks the master key from rolling the
// primary back to an older key.
func wrapAAD(id string, primary bool) []byte {
	b := make([]byte, 0, len(wrapLabel)+2+8+len(id)+1)
	b = append(b, wrapLabel...)
	b = append(b, 0, exportVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(len(id)))
	b = append(b, id...)
	if primary {
		return append(b, 1)
	}
	return append(b, 0)
}

func masterAEAD(master []byte) (cipher.AEAD, error) {
	if len(master) != keySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d bytes", keySize, len(master))
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Export serializes every data key of the keyring, each sealed under master with
// AES-256-GCM, together with which key is primary and master's Fingerprint. The result
// (JSON, see exportFormat) is safe to store next to the sealed secrets; only
// ImportKeyring with the same master key can read it.
func (k *Keyring) Export(master []byte) ([]byte, error) {
	aead, err := masterAEAD(master)
	if err != nil {
		return nil, fmt.Errorf("export keyring: %w", err)
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.primary == "" {
		return nil, errors.New("export keyring: keyring has no data keys")
	}
	doc := exportedKeyring{
		Format:               exportFormat,
		Version:              exportVersion,
		MasterKeyFingerprint: Fingerprint(master),
		Primary:              k.primary,
		Keys:                 make([]exportedKey, 0, len(k.order)),
	}
	for _, id := range k.order {
		dk := k.keys[id]
		sealed := make([]byte, nonceSize, nonceSize+len(dk.raw)+aead.Overhead())
		if _, err := rand.Read(sealed); err != nil {
			return nil, fmt.Errorf("export keyring: %w", err)
		}
		sealed = aead.Seal(sealed, sealed[:nonceSize], dk.raw, wrapAAD(id, id == k.primary))
		doc.Keys = append(doc.Keys, exportedKey{ID: id, Sealed: sealed})
	}
	blob, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("export keyring: %w", err)
	}
	return blob, nil
}

// ImportKeyring reads a keyring that Export sealed under master. A different master
// key yields an error wrapping ErrWrongMasterKey that names both fingerprints; a blob
// that is malformed or fails authentication in any part yields an error too. There is
// no fallback: either every data key authenticates or nothing is returned.
func ImportKeyring(master, blob []byte) (*Keyring, error) {
	aead, err := masterAEAD(master)
	if err != nil {
		return nil, fmt.Errorf("import keyring: %w", err)
	}

	var doc exportedKeyring
	dec := json.NewDecoder(bytes.NewReader(blob))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		// The decoder's message can quote bits of the input; say only where it broke.
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("import keyring: not a keyring document: invalid JSON at byte %d", syntax.Offset)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, errors.New("import keyring: not a keyring document: empty or truncated")
		default:
			return nil, errors.New("import keyring: not a keyring document: unexpected structure")
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("import keyring: not a keyring document: trailing data after the JSON object")
	}
	if doc.Format != exportFormat {
		return nil, fmt.Errorf("import keyring: not a keyring document: format is not %q", exportFormat)
	}
	if doc.Version != exportVersion {
		return nil, fmt.Errorf("import keyring: unsupported keyring version %d (this build reads version %d)", doc.Version, exportVersion)
	}
	if !validFingerprint(doc.MasterKeyFingerprint) {
		return nil, errors.New("import keyring: master_key_fingerprint is not 8 lower-case hex characters")
	}
	// Fingerprints are public (a truncated, labelled hash), so a plain comparison is
	// fine. Checking it first turns the most common operator mistake, starting with the
	// wrong GATEHOUSE_MASTER_KEY, into a clear message instead of "authentication failed".
	if got := Fingerprint(master); got != doc.MasterKeyFingerprint {
		return nil, fmt.Errorf("import keyring: %w: the master key given has fingerprint %s, the keyring was sealed by the master key with fingerprint %s",
			ErrWrongMasterKey, got, doc.MasterKeyFingerprint)
	}
	switch {
	case len(doc.Keys) == 0:
		return nil, errors.New("import keyring: keyring has no data keys")
	case len(doc.Keys) > maxExportKeys:
		return nil, fmt.Errorf("import keyring: %d data keys is more than the %d allowed", len(doc.Keys), maxExportKeys)
	case !validKeyID(doc.Primary):
		return nil, errors.New("import keyring: primary key id is malformed")
	}

	k := &Keyring{keys: make(map[string]*dataKey, len(doc.Keys)), order: make([]string, 0, len(doc.Keys))}
	for i, ek := range doc.Keys {
		if !validKeyID(ek.ID) {
			return nil, fmt.Errorf("import keyring: key %d has a malformed id", i)
		}
		if _, dup := k.keys[ek.ID]; dup {
			return nil, fmt.Errorf("import keyring: key id %s appears more than once", ek.ID)
		}
		if len(ek.Sealed) < nonceSize+aead.Overhead() {
			return nil, fmt.Errorf("import keyring: sealed data key %s is too short", ek.ID)
		}
		raw, err := aead.Open(nil, ek.Sealed[:nonceSize], ek.Sealed[nonceSize:], wrapAAD(ek.ID, ek.ID == doc.Primary))
		if err != nil {
			return nil, fmt.Errorf("import keyring: data key %s does not authenticate under this master key; the keyring is damaged or was altered", ek.ID)
		}
		dk, err := newDataKey(ek.ID, raw)
		if err != nil {
			return nil, fmt.Errorf("import keyring: %w", err)
		}
		k.keys[ek.ID] = dk
		k.order = append(k.order, ek.ID)
	}
	if _, ok := k.keys[doc.Primary]; !ok {
		return nil, fmt.Errorf("import keyring: primary key %s is not among the keys", doc.Primary)
	}
	k.primary = doc.Primary
	return k, nil
}

func validFingerprint(s string) bool {
	if len(s) != fingerprintLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
