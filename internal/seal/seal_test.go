package seal

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	aadShared  = AAD{SecurableID: "conn-1", Field: "bearer_token"}
	aadPerUser = AAD{SecurableID: "conn-1", Field: "refresh_token", Principal: "alice@example.com"}
)

// testKeyring builds a keyring from fixed keys (id, then 32 raw bytes), the last one
// primary, so that fuzz seeds stay valid across processes.
func testKeyring(tb testing.TB, keys ...struct {
	id  string
	raw []byte
}) *Keyring {
	tb.Helper()
	k := &Keyring{keys: map[string]*dataKey{}}
	for _, key := range keys {
		dk, err := newDataKey(key.id, key.raw)
		if err != nil {
			tb.Fatalf("newDataKey(%s): %v", key.id, err)
		}
		k.keys[key.id] = dk
		k.order = append(k.order, key.id)
		k.primary = key.id
	}
	return k
}

func fixedKey(id string, fill byte) struct {
	id  string
	raw []byte
} {
	return struct {
		id  string
		raw []byte
	}{id, bytes.Repeat([]byte{fill}, keySize)}
}

func newKeyring(t *testing.T) *Keyring {
	t.Helper()
	k, err := NewKeyring()
	if err != nil {
		t.Fatalf("NewKeyring() error: %v", err)
	}
	return k
}

func mustSeal(t *testing.T, k *Keyring, plaintext []byte, aad AAD) []byte {
	t.Helper()
	ct, err := k.Seal(plaintext, aad)
	if err != nil {
		t.Fatalf("Seal(%q, %+v) error: %v", plaintext, aad, err)
	}
	return ct
}

func masterKey(fill byte) []byte { return bytes.Repeat([]byte{fill}, keySize) }

func TestSealOpenRoundTrip(t *testing.T) {
	k := newKeyring(t)
	tests := []struct {
		name      string
		plaintext []byte
		aad       AAD
	}{
		{"shared secret", []byte("s3cr3t-bearer-token"), aadShared},
		{"per-user secret", []byte("refresh-token-of-alice"), aadPerUser},
		{"empty plaintext", []byte{}, aadShared},
		{"binary plaintext", []byte{0, 1, 2, 0xff, 0xfe, 0}, aadShared},
		{"large plaintext", bytes.Repeat([]byte("x"), 1<<20), aadShared},
		{"unicode aad", []byte("v"), AAD{SecurableID: "connexión", Field: "clé", Principal: "ünïcode"}},
		{"aad with separators", []byte("v"), AAD{SecurableID: "a\x00b", Field: "c\x00", Principal: "\x00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := mustSeal(t, k, tt.plaintext, tt.aad)
			if got, want := len(ct), 2+len(k.PrimaryID())+nonceSize+len(tt.plaintext)+tagSize; got != want {
				t.Errorf("len(Seal()) = %d, want %d", got, want)
			}
			if len(tt.plaintext) >= 8 && bytes.Contains(ct, tt.plaintext) {
				t.Errorf("ciphertext contains the plaintext")
			}
			got, err := k.Open(ct, tt.aad)
			if err != nil {
				t.Fatalf("Open() error: %v", err)
			}
			if got == nil || !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open(Seal(%.20q)) = %.20q, want the plaintext", tt.plaintext, got)
			}
		})
	}
}

func TestSealUsesFreshNonce(t *testing.T) {
	k := newKeyring(t)
	a := mustSeal(t, k, []byte("same"), aadShared)
	b := mustSeal(t, k, []byte("same"), aadShared)
	if bytes.Equal(a, b) {
		t.Fatalf("two seals of the same plaintext are identical; the nonce is not fresh")
	}
}

func TestCiphertextFormat(t *testing.T) {
	k := newKeyring(t)
	ct := mustSeal(t, k, []byte("hello"), aadShared)
	id := k.PrimaryID()
	if ct[0] != 0x01 {
		t.Errorf("version byte = %#x, want 0x01", ct[0])
	}
	if int(ct[1]) != len(id) || string(ct[2:2+len(id)]) != id {
		t.Errorf("header key id = %q (length byte %d), want %q", ct[2:2+int(ct[1])], ct[1], id)
	}
	if ok, _ := regexp.MatchString(`^[0-9a-f]{8}$`, id); !ok {
		t.Errorf("PrimaryID() = %q, want 8 lower-case hex characters", id)
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	k := newKeyring(t)
	ct := mustSeal(t, k, []byte("s3cr3t-bearer-token"), aadShared)
	idLen := int(ct[1])
	nonceAt := 2 + idLen
	bodyAt := nonceAt + nonceSize
	tagAt := len(ct) - tagSize

	tests := []struct {
		name   string
		mutate func(c []byte) []byte
		want   error // nil: any error
	}{
		{"version bit", flipAt(0, 0x01), ErrMalformed},
		{"version high bit", flipAt(0, 0x80), ErrMalformed},
		{"key id length", flipAt(1, 0x01), nil},
		{"key id first byte", flipAt(2, 0x01), nil},
		{"key id last byte", flipAt(1+idLen, 0x04), nil},
		{"nonce first byte", flipAt(nonceAt, 0x01), ErrAuthentication},
		{"nonce last byte", flipAt(bodyAt-1, 0x80), ErrAuthentication},
		{"body first byte", flipAt(bodyAt, 0x01), ErrAuthentication},
		{"body last byte", flipAt(tagAt-1, 0x10), ErrAuthentication},
		{"tag first byte", flipAt(tagAt, 0x01), ErrAuthentication},
		{"tag last byte", flipAt(len(ct)-1, 0x80), ErrAuthentication},
		{"byte appended", func(c []byte) []byte { return append(c, 0) }, ErrAuthentication},
		{"last byte dropped", func(c []byte) []byte { return c[:len(c)-1] }, ErrAuthentication},
		{"body swapped with another seal", func(c []byte) []byte {
			other := mustSeal(t, k, []byte("other-bearer-token!"), aadShared)
			return append(c[:bodyAt:bodyAt], other[bodyAt:]...)
		}, ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.mutate(bytes.Clone(ct))
			got, err := k.Open(c, aadShared)
			if err == nil {
				t.Fatalf("Open(tampered) = %q, nil; want an error", got)
			}
			if got != nil {
				t.Errorf("Open(tampered) returned plaintext %q along with error", got)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Open(tampered) error = %v, want %v", err, tt.want)
			}
		})
	}
}

func flipAt(i int, mask byte) func([]byte) []byte {
	return func(c []byte) []byte {
		c[i] ^= mask
		return c
	}
}

// TestHeaderIsAuthenticated shows that the key id is bound by the AAD: even when two
// ids name the same key bytes, relabelling a ciphertext fails.
func TestHeaderIsAuthenticated(t *testing.T) {
	k := testKeyring(t, fixedKey("aaaaaaaa", 7), fixedKey("aaaaaaab", 7))
	ct := mustSeal(t, k, []byte("secret"), aadShared)
	if string(ct[2:10]) != "aaaaaaab" {
		t.Fatalf("sealed with %q, want primary aaaaaaab", ct[2:10])
	}
	ct[9] = 'a'
	if _, err := k.Open(ct, aadShared); !errors.Is(err, ErrAuthentication) {
		t.Fatalf("Open(relabelled ciphertext) error = %v, want %v", err, ErrAuthentication)
	}
}

func TestOpenRejectsMovedCiphertext(t *testing.T) {
	k := newKeyring(t)
	sealedFor := AAD{SecurableID: "conn-1", Field: "refresh_token", Principal: "alice"}
	ct := mustSeal(t, k, []byte("alice's refresh token"), sealedFor)

	tests := []struct {
		name string
		aad  AAD
	}{
		{"other securable", AAD{SecurableID: "conn-2", Field: "refresh_token", Principal: "alice"}},
		{"other field", AAD{SecurableID: "conn-1", Field: "access_token", Principal: "alice"}},
		{"other principal", AAD{SecurableID: "conn-1", Field: "refresh_token", Principal: "bob"}},
		{"shared instead of per-user", AAD{SecurableID: "conn-1", Field: "refresh_token", Principal: ""}},
		{"boundary shifted securable/field", AAD{SecurableID: "conn-1refresh", Field: "_token", Principal: "alice"}},
		{"boundary shifted field/principal", AAD{SecurableID: "conn-1", Field: "refresh_tokena", Principal: "lice"}},
		{"case changed", AAD{SecurableID: "CONN-1", Field: "refresh_token", Principal: "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(ct, tt.aad)
			if !errors.Is(err, ErrAuthentication) {
				t.Fatalf("Open(ct sealed for %+v, %+v) = %q, %v; want %v", sealedFor, tt.aad, got, err, ErrAuthentication)
			}
		})
	}
	if _, err := k.Open(ct, sealedFor); err != nil {
		t.Fatalf("Open with the original AAD: %v", err)
	}
}

func TestSealAndOpenRefuseUnboundAAD(t *testing.T) {
	k := newKeyring(t)
	ct := mustSeal(t, k, []byte("x"), aadShared)
	tests := []struct {
		name string
		aad  AAD
	}{
		{"empty", AAD{}},
		{"no securable", AAD{Field: "bearer_token"}},
		{"no field", AAD{SecurableID: "conn-1", Principal: "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Seal([]byte("x"), tt.aad); err == nil {
				t.Errorf("Seal(%+v) succeeded, want an error", tt.aad)
			}
			if _, err := k.Open(ct, tt.aad); err == nil {
				t.Errorf("Open(%+v) succeeded, want an error", tt.aad)
			}
		})
	}
}

func TestOpenRejectsMalformed(t *testing.T) {
	k := testKeyring(t, fixedKey("abcd1234", 1))
	body := make([]byte, nonceSize+tagSize)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"nil", nil, ErrMalformed},
		{"empty", []byte{}, ErrMalformed},
		{"version only", []byte{0x01}, ErrMalformed},
		{"version 0", append([]byte{0x00, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '4'}, body...), ErrMalformed},
		{"version 2", append([]byte{0x02, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '4'}, body...), ErrMalformed},
		{"key id length 0", append([]byte{0x01, 0}, body...), ErrMalformed},
		{"key id length 255", append([]byte{0x01, 255}, bytes.Repeat([]byte("a"), 300)...), ErrMalformed},
		{"key id longer than input", []byte{0x01, 8, 'a', 'b'}, ErrMalformed},
		{"no nonce", []byte{0x01, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '4'}, ErrMalformed},
		{"no tag", append([]byte{0x01, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '4'}, make([]byte, nonceSize+tagSize-1)...), ErrMalformed},
		{"key id with bad characters", append([]byte{0x01, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '\n'}, body...), ErrMalformed},
		{"unknown key id", append([]byte{0x01, 8, 'f', 'f', 'f', 'f', '0', '0', '0', '0'}, body...), ErrUnknownKey},
		{"known key id, zero body", append([]byte{0x01, 8, 'a', 'b', 'c', 'd', '1', '2', '3', '4'}, body...), ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Open(tt.in, aadShared)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open(%x) = %q, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestOpenTruncatedNeverPanics(t *testing.T) {
	k := newKeyring(t)
	ct := mustSeal(t, k, []byte("a secret worth protecting"), aadPerUser)
	for n := range len(ct) {
		if got, err := k.Open(ct[:n], aadPerUser); err == nil {
			t.Errorf("Open(first %d of %d bytes) = %q, nil; want an error", n, len(ct), got)
		}
		if n < 2+8+nonceSize+tagSize {
			if _, err := k.KeyIDOf(ct[:n]); !errors.Is(err, ErrMalformed) {
				t.Errorf("KeyIDOf(first %d bytes) error = %v, want %v", n, err, ErrMalformed)
			}
		}
	}
}

func TestZeroKeyring(t *testing.T) {
	var k Keyring
	if _, err := k.Seal([]byte("x"), aadShared); err == nil {
		t.Errorf("Seal on a zero Keyring succeeded, want an error")
	}
	if _, err := k.Export(masterKey(1)); err == nil {
		t.Errorf("Export of a zero Keyring succeeded, want an error")
	}
	if _, err := k.Rotate(); err != nil {
		t.Fatalf("Rotate on a zero Keyring: %v", err)
	}
	if _, err := k.Seal([]byte("x"), aadShared); err != nil {
		t.Errorf("Seal after Rotate: %v", err)
	}
}

func TestRotate(t *testing.T) {
	k := newKeyring(t)
	oldID := k.PrimaryID()
	old := mustSeal(t, k, []byte("sealed before rotation"), aadShared)

	newID, err := k.Rotate()
	if err != nil {
		t.Fatalf("Rotate() error: %v", err)
	}
	if newID == oldID {
		t.Fatalf("Rotate() = %s, the old primary id", newID)
	}
	if got := k.PrimaryID(); got != newID {
		t.Errorf("PrimaryID() after Rotate = %s, want %s", got, newID)
	}

	if got, err := k.Open(old, aadShared); err != nil || string(got) != "sealed before rotation" {
		t.Errorf("Open(old ciphertext) after Rotate = %q, %v; want the plaintext", got, err)
	}
	if got, err := k.KeyIDOf(old); err != nil || got != oldID {
		t.Errorf("KeyIDOf(old ciphertext) = %s, %v; want %s", got, err, oldID)
	}
	fresh := mustSeal(t, k, []byte("sealed after rotation"), aadShared)
	if got, err := k.KeyIDOf(fresh); err != nil || got != newID {
		t.Errorf("KeyIDOf(new ciphertext) = %s, %v; want %s", got, err, newID)
	}
	if got, err := k.Open(fresh, aadShared); err != nil || string(got) != "sealed after rotation" {
		t.Errorf("Open(new ciphertext) = %q, %v; want the plaintext", got, err)
	}

	// A keyring that never had the new key cannot open what it sealed.
	other := newKeyring(t)
	if _, err := other.Open(fresh, aadShared); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("other keyring Open(new ciphertext) error = %v, want %v", err, ErrUnknownKey)
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	master := masterKey(0x42)
	k := newKeyring(t)
	type sealed struct {
		ct        []byte
		plaintext string
	}
	var all []sealed
	for i := range 4 {
		pt := fmt.Sprintf("secret %d", i)
		all = append(all, sealed{mustSeal(t, k, []byte(pt), aadPerUser), pt})
		if i < 3 {
			if _, err := k.Rotate(); err != nil {
				t.Fatalf("Rotate() error: %v", err)
			}
		}
	}

	blob, err := k.Export(master)
	if err != nil {
		t.Fatalf("Export() error: %v", err)
	}
	for _, id := range k.order {
		if raw := k.keys[id].raw; bytes.Contains(blob, raw) ||
			bytes.Contains(blob, []byte(base64.StdEncoding.EncodeToString(raw))) ||
			bytes.Contains(blob, []byte(hex.EncodeToString(raw))) {
			t.Errorf("exported blob contains data key %s in the clear", id)
		}
	}

	got, err := ImportKeyring(master, blob)
	if err != nil {
		t.Fatalf("ImportKeyring() error: %v", err)
	}
	if diff := cmp.Diff(k.order, got.order); diff != "" {
		t.Errorf("imported key ids differ (-want +got):\n%s", diff)
	}
	if got.PrimaryID() != k.PrimaryID() {
		t.Errorf("imported PrimaryID() = %s, want %s", got.PrimaryID(), k.PrimaryID())
	}
	for _, id := range k.order {
		if !bytes.Equal(got.keys[id].raw, k.keys[id].raw) {
			t.Errorf("imported data key %s differs from the exported one", id)
		}
	}
	for _, s := range all {
		if pt, err := got.Open(s.ct, aadPerUser); err != nil || string(pt) != s.plaintext {
			t.Errorf("imported Open(%q) = %q, %v", s.plaintext, pt, err)
		}
	}
	ct := mustSeal(t, got, []byte("after import"), aadShared)
	if pt, err := k.Open(ct, aadShared); err != nil || string(pt) != "after import" {
		t.Errorf("original Open(sealed by imported) = %q, %v", pt, err)
	}

	again, err := k.Export(master)
	if err != nil {
		t.Fatalf("second Export() error: %v", err)
	}
	if bytes.Equal(blob, again) {
		t.Errorf("two exports are identical; data keys are not wrapped with fresh nonces")
	}
}

func TestImportWrongMasterKey(t *testing.T) {
	right, wrong := masterKey(0x11), masterKey(0x22)
	blob, err := newKeyring(t).Export(right)
	if err != nil {
		t.Fatalf("Export() error: %v", err)
	}
	k, err := ImportKeyring(wrong, blob)
	if err == nil {
		t.Fatalf("ImportKeyring(wrong master) = %v, nil; want an error", k)
	}
	if k != nil {
		t.Errorf("ImportKeyring(wrong master) returned a keyring along with the error")
	}
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("ImportKeyring(wrong master) error = %v, want %v", err, ErrWrongMasterKey)
	}
	msg := err.Error()
	for _, want := range []string{
		"master key does not match the one that sealed this keyring",
		Fingerprint(wrong),
		Fingerprint(right),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("ImportKeyring(wrong master) error = %q, want it to contain %q", msg, want)
		}
	}
	assertNoSecret(t, msg, right, wrong)
}

func TestImportRejectsBadBlobs(t *testing.T) {
	master := masterKey(0x33)
	k := newKeyring(t)
	firstID := k.PrimaryID()
	if _, err := k.Rotate(); err != nil {
		t.Fatalf("Rotate() error: %v", err)
	}
	blob, err := k.Export(master)
	if err != nil {
		t.Fatalf("Export() error: %v", err)
	}
	edit := func(f func(d *exportedKeyring)) []byte {
		var d exportedKeyring
		if err := json.Unmarshal(blob, &d); err != nil {
			t.Fatalf("unmarshal export: %v", err)
		}
		f(&d)
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("marshal export: %v", err)
		}
		return b
	}

	tests := []struct {
		name   string
		master []byte
		blob   []byte
	}{
		{"master key too short", master[:31], blob},
		{"master key too long", append(bytes.Clone(master), 0), blob},
		{"nil blob", master, nil},
		{"empty object", master, []byte("{}")},
		{"null", master, []byte("null")},
		{"truncated", master, blob[:len(blob)/2]},
		{"trailing data", master, append(bytes.Clone(blob), []byte(" {}")...)},
		{"unknown field", master, bytes.Replace(blob, []byte(`{"format"`), []byte(`{"extra":1,"format"`), 1)},
		{"wrong format", master, edit(func(d *exportedKeyring) { d.Format = "other" })},
		{"version 2", master, edit(func(d *exportedKeyring) { d.Version = 2 })},
		{"fingerprint not hex", master, edit(func(d *exportedKeyring) { d.MasterKeyFingerprint = "zzzzzzzz" })},
		{"no keys", master, edit(func(d *exportedKeyring) { d.Keys = nil })},
		{"primary rolled back", master, edit(func(d *exportedKeyring) { d.Primary = firstID })},
		{"primary unknown", master, edit(func(d *exportedKeyring) { d.Primary = "00000000" })},
		{"primary malformed", master, edit(func(d *exportedKeyring) { d.Primary = "bad id!" })},
		{"key id malformed", master, edit(func(d *exportedKeyring) { d.Keys[0].ID = "" })},
		{"key ids swapped", master, edit(func(d *exportedKeyring) {
			d.Keys[0].ID, d.Keys[1].ID = d.Keys[1].ID, d.Keys[0].ID
		})},
		{"sealed keys swapped", master, edit(func(d *exportedKeyring) {
			d.Keys[0].Sealed, d.Keys[1].Sealed = d.Keys[1].Sealed, d.Keys[0].Sealed
		})},
		{"duplicate key", master, edit(func(d *exportedKeyring) { d.Keys = append(d.Keys, d.Keys[1]) })},
		{"sealed key bit flipped", master, edit(func(d *exportedKeyring) { d.Keys[0].Sealed[20] ^= 1 })},
		{"sealed key too short", master, edit(func(d *exportedKeyring) { d.Keys[0].Sealed = d.Keys[0].Sealed[:nonceSize+tagSize-1] })},
		{"sealed key empty", master, edit(func(d *exportedKeyring) { d.Keys[0].Sealed = nil })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ImportKeyring(tt.master, tt.blob)
			if err == nil {
				t.Fatalf("ImportKeyring() = %v, nil; want an error", got)
			}
			assertNoSecret(t, err.Error(), master)
		})
	}
}

func TestExportRejectsBadMasterKey(t *testing.T) {
	k := newKeyring(t)
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := k.Export(make([]byte, n)); err == nil {
			t.Errorf("Export(%d-byte master key) succeeded, want an error", n)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a, b := masterKey(1), masterKey(2)
	fa := Fingerprint(a)
	if ok, _ := regexp.MatchString(`^[0-9a-f]{8}$`, fa); !ok {
		t.Errorf("Fingerprint() = %q, want 8 lower-case hex characters", fa)
	}
	if Fingerprint(bytes.Clone(a)) != fa {
		t.Errorf("Fingerprint is not deterministic")
	}
	if Fingerprint(b) == fa {
		t.Errorf("Fingerprint(a) == Fingerprint(b) = %s", fa)
	}
	if strings.Contains(hex.EncodeToString(a), fa) {
		t.Errorf("Fingerprint(a) = %s is part of the key's hex", fa)
	}
}

// TestKeyringPrintsNoKeyMaterial checks every formatting route a Keyring might take
// into a log line.
func TestKeyringPrintsNoKeyMaterial(t *testing.T) {
	k := newKeyring(t)
	if _, err := k.Rotate(); err != nil {
		t.Fatalf("Rotate() error: %v", err)
	}
	var raws [][]byte
	for _, id := range k.order {
		raws = append(raws, k.keys[id].raw)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X"} {
		out := fmt.Sprintf(verb, k)
		assertNoSecret(t, out, raws...)
		if verb == "%v" {
			for _, id := range k.order {
				if !strings.Contains(out, id) {
					t.Errorf("%s of keyring = %q, want it to name key %s", verb, out, id)
				}
			}
		}
	}
	// Printing the struct's fields by reflection (what a careless %+v of a containing
	// struct does) shows only addresses of the data keys.
	out := fmt.Sprintf("%+v %#v", struct{ K any }{k.keys}, k.keys)
	assertNoSecret(t, out, raws...)
}

// assertNoSecret fails if s contains any secret raw, or its base64, hex or Go-syntax
// byte rendering.
func assertNoSecret(t *testing.T, s string, secrets ...[]byte) {
	t.Helper()
	for _, raw := range secrets {
		forms := []string{
			string(raw),
			base64.StdEncoding.EncodeToString(raw),
			base64.RawURLEncoding.EncodeToString(raw),
			hex.EncodeToString(raw),
			strings.ToUpper(hex.EncodeToString(raw)),
			fmt.Sprint(raw),
			fmt.Sprintf("%#v", raw),
		}
		for _, f := range forms {
			if strings.Contains(s, f) {
				t.Errorf("%q contains secret material", s)
				return
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	k := newKeyring(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				pt := fmt.Sprintf("w%d-%d", w, i)
				ct, err := k.Seal([]byte(pt), aadShared)
				if err != nil {
					errs <- err
					return
				}
				got, err := k.Open(ct, aadShared)
				if err != nil || string(got) != pt {
					errs <- fmt.Errorf("Open = %q, %v; want %q", got, err, pt)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := k.Rotate(); err != nil {
				errs <- err
				return
			}
			if _, err := k.Export(masterKey(9)); err != nil {
				errs <- err
				return
			}
			_ = k.String()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestParseMasterKey(t *testing.T) {
	// Bytes chosen so that the standard and URL alphabets differ ('+', '/' vs '-', '_').
	key := make([]byte, keySize)
	for i := range key {
		key[i] = byte(0xf8 + i%8)
	}
	std := base64.StdEncoding.EncodeToString(key)
	url := base64.URLEncoding.EncodeToString(key)
	if !strings.ContainsAny(std, "+/") || !strings.HasSuffix(std, "=") {
		t.Fatalf("test key %q does not exercise the alphabets and padding", std)
	}

	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr string
	}{
		{"standard padded", std, key, ""},
		{"standard unpadded", strings.TrimRight(std, "="), key, ""},
		{"url padded", url, key, ""},
		{"url unpadded", strings.TrimRight(url, "="), key, ""},
		{"surrounding whitespace", " \t" + std + "\r\n", key, ""},
		{"trailing newline from a file", std + "\n", key, ""},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), nil, "master key must be base64 of 32 bytes, got 31 bytes"},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1)), nil, "master key must be base64 of 32 bytes, got 33 bytes"},
		{"64 hex characters", hex.EncodeToString(key), nil, "got 48 bytes"},
		{"empty", "", nil, "master key is empty"},
		{"whitespace only", " \n\t ", nil, "master key is empty"},
		{"garbage", "this is not a key!!", nil, "not valid base64"},
		{"mixed alphabets", strings.Replace(std, "/", "_", 1), nil, "not valid base64"},
		{"inner space", std[:10] + " " + std[10:], nil, "not valid base64"},
		{"bad padding", std + "==", nil, "not valid base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMasterKey(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMasterKey() error: %v", err)
				}
				if !bytes.Equal(got, tt.want) {
					t.Errorf("ParseMasterKey() = %x, want %x", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseMasterKey() = %x, nil; want error containing %q", got, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseMasterKey() error = %q, want it to contain %q", err, tt.wantErr)
			}
			if in := strings.TrimSpace(tt.in); in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("ParseMasterKey() error %q contains the input", err)
			}
			if !masterKeyErrRE.MatchString(err.Error()) {
				t.Errorf("ParseMasterKey() error %q is not one of the fixed messages", err)
			}
		})
	}
}

// masterKeyErrRE matches every error ParseMasterKey may return: fixed text and a byte
// count, so no part of the input can be in it.
var masterKeyErrRE = regexp.MustCompile(`^master key (is empty|is not valid base64|must be base64 of 32 bytes, got \d+ bytes)(; want base64 of 32 bytes)?$`)

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to the umask
		t.Fatal(err)
	}
}

func TestLoadMasterKey(t *testing.T) {
	envKey, fileKey := masterKey(0xa1), masterKey(0xb2)
	envB64 := base64.StdEncoding.EncodeToString(envKey)
	fileB64 := base64.StdEncoding.EncodeToString(fileKey)
	dir := t.TempDir()
	goodFile := filepath.Join(dir, "good.key")
	writeFile(t, goodFile, fileB64+"\n", 0o600)
	readOnlyFile := filepath.Join(dir, "readonly.key")
	writeFile(t, readOnlyFile, fileB64, 0o400)
	ownerExecFile := filepath.Join(dir, "owner-exec.key")
	writeFile(t, ownerExecFile, fileB64, 0o700)
	missing := filepath.Join(dir, "missing.key")
	badFile := filepath.Join(dir, "bad.key")
	writeFile(t, badFile, "c2VjcmV0LWJ1dC1zaG9ydA==", 0o600)

	type loadCase struct {
		name       string
		env, file  string
		dataDir    string
		want       []byte
		wantSource string
		wantErr    []string // substrings of the error
		noSecret   string   // must not appear in the error
	}
	tests := []loadCase{
		{name: "env wins over file and data dir", env: envB64, file: goodFile, dataDir: dir, want: envKey, wantSource: "GATEHOUSE_MASTER_KEY"},
		{name: "env wins over a missing file", env: envB64, file: missing, want: envKey, wantSource: "GATEHOUSE_MASTER_KEY"},
		{name: "file", file: goodFile, dataDir: dir, want: fileKey, wantSource: "file " + goodFile},
		{name: "read-only file", file: readOnlyFile, want: fileKey, wantSource: "file " + readOnlyFile},
		{name: "owner-only executable bit", file: ownerExecFile, want: fileKey, wantSource: "file " + ownerExecFile},
		{name: "malformed env", env: "c2VjcmV0LWJ1dC1zaG9ydA==", file: goodFile,
			wantErr: []string{"GATEHOUSE_MASTER_KEY", "got 16 bytes"}, noSecret: "c2VjcmV0LWJ1dC1zaG9ydA"},
		{name: "malformed file", file: badFile,
			wantErr: []string{badFile, "got 16 bytes"}, noSecret: "c2VjcmV0LWJ1dC1zaG9ydA"},
		{name: "missing file", file: missing, wantErr: []string{missing}},
		{name: "directory as file", file: dir, wantErr: []string{dir, "not a regular file"}},
		{name: "nothing configured", wantErr: []string{"GATEHOUSE_MASTER_KEY"}},
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o610, 0o601, 0o666} {
		path := filepath.Join(dir, fmt.Sprintf("loose-%04o.key", mode))
		writeFile(t, path, fileB64, mode)
		tests = append(tests, loadCase{name: fmt.Sprintf("file mode %04o refused", mode), file: path,
			wantErr: []string{path, "chmod 600", fmt.Sprintf("%04o", mode)}, noSecret: fileB64})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, source, generated, err := LoadMasterKey(tt.env, tt.file, tt.dataDir)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("LoadMasterKey() = source %q, nil; want an error", source)
				}
				for _, want := range tt.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("LoadMasterKey() error = %q, want it to contain %q", err, want)
					}
				}
				if tt.noSecret != "" && strings.Contains(err.Error(), tt.noSecret) {
					t.Errorf("LoadMasterKey() error %q contains the key material", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadMasterKey() error: %v", err)
			}
			if !bytes.Equal(key, tt.want) || source != tt.wantSource || generated {
				t.Errorf("LoadMasterKey() = %x, %q, %v; want %x, %q, false", key, source, generated, tt.want, tt.wantSource)
			}
		})
	}
}

func TestLoadMasterKeyGeneratesDevelopmentKey(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dataDir, "master.key")

	key, source, generated, err := LoadMasterKey("", "", dataDir)
	if err != nil {
		t.Fatalf("first LoadMasterKey() error: %v", err)
	}
	if !generated || len(key) != keySize {
		t.Errorf("first LoadMasterKey() = %d bytes, generated %v; want 32 bytes, generated", len(key), generated)
	}
	if want := "generated file " + path + " (development only)"; source != want {
		t.Errorf("first LoadMasterKey() source = %q, want %q", source, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat generated key: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("generated key file mode = %04o, want 0600", got)
	}
	di, err := os.Stat(dataDir)
	if err != nil {
		t.Fatalf("stat data dir: %v", err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("created data dir mode = %04o, want 0700", got)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if parsed, err := ParseMasterKey(string(content)); err != nil || !bytes.Equal(parsed, key) {
		t.Errorf("generated file holds %d bytes, %v; want base64 of the returned key", len(parsed), err)
	}

	again, source, generated, err := LoadMasterKey("", "", dataDir)
	if err != nil {
		t.Fatalf("second LoadMasterKey() error: %v", err)
	}
	if generated || !bytes.Equal(again, key) {
		t.Errorf("second LoadMasterKey() generated %v, same key %v; want the stored key, not generated", generated, bytes.Equal(again, key))
	}
	if want := "file " + path + " (development only)"; source != want {
		t.Errorf("second LoadMasterKey() source = %q, want %q", source, want)
	}

	// An explicit key wins over the development file.
	envKey := masterKey(0x5a)
	got, source, _, err := LoadMasterKey(base64.StdEncoding.EncodeToString(envKey), "", dataDir)
	if err != nil || !bytes.Equal(got, envKey) || source != "GATEHOUSE_MASTER_KEY" {
		t.Errorf("LoadMasterKey(env, data dir) = source %q, %v; want the env key", source, err)
	}

	// Loosened permissions on the development file are refused too.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := LoadMasterKey("", "", dataDir); err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
		t.Errorf("LoadMasterKey(group-readable dev key) error = %v, want one naming %s and chmod 600", err, path)
	}
}

func TestLoadMasterKeyDoesNotOverwriteBrokenDevKey(t *testing.T) {
	dataDir := t.TempDir()
	path := filepath.Join(dataDir, "master.key")
	writeFile(t, path, "not a key", 0o600)
	if _, _, _, err := LoadMasterKey("", "", dataDir); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadMasterKey(broken dev key) error = %v, want one naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Errorf("broken dev key file was rewritten")
	}
}

func FuzzOpen(f *testing.F) {
	k := testKeyring(f, fixedKey("0f0f0f0f", 1), fixedKey("a1b2c3d4", 2))
	seed := func(pt string, aad AAD) []byte {
		ct, err := k.Seal([]byte(pt), aad)
		if err != nil {
			f.Fatal(err)
		}
		return ct
	}
	valid := seed("secret", aadPerUser)
	f.Add(valid, aadPerUser.SecurableID, aadPerUser.Field, aadPerUser.Principal, []byte("secret"))
	f.Add(valid[:len(valid)-1], aadPerUser.SecurableID, aadPerUser.Field, aadPerUser.Principal, []byte("x"))
	f.Add(seed("", aadShared), aadShared.SecurableID, aadShared.Field, "", []byte{})
	f.Add([]byte{}, "", "", "", []byte(nil))
	f.Add([]byte{0x01}, "a", "b", "c", []byte{0})
	f.Add([]byte{0x01, 0xff, 'a'}, "conn", "field", "", []byte("pt"))
	f.Add(append([]byte{0x01, 8, '0', 'f', '0', 'f', '0', 'f', '0', 'f'}, make([]byte, 28)...), "s", "f", "p", []byte("p"))
	f.Add([]byte{0x02, 8}, "s\x00", "\x00f", "p", bytes.Repeat([]byte{0xff}, 100))

	f.Fuzz(func(t *testing.T, ct []byte, securable, field, principal string, plaintext []byte) {
		aad := AAD{SecurableID: securable, Field: field, Principal: principal}
		if got, err := k.Open(ct, aad); err == nil && got == nil {
			t.Errorf("Open succeeded with nil plaintext")
		} else if err != nil && got != nil {
			t.Errorf("Open returned plaintext with error %v", err)
		}
		_, _ = k.KeyIDOf(ct)

		sealed, err := k.Seal(plaintext, aad)
		if securable == "" || field == "" {
			if err == nil {
				t.Fatalf("Seal(%+v) succeeded with an unbound AAD", aad)
			}
			return
		}
		if err != nil {
			t.Fatalf("Seal() error: %v", err)
		}
		got, err := k.Open(sealed, aad)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plaintext, got, err)
		}
		if id, err := k.KeyIDOf(sealed); err != nil || id != "a1b2c3d4" {
			t.Fatalf("KeyIDOf(Seal()) = %q, %v; want a1b2c3d4", id, err)
		}
		moved := aad
		moved.Principal += "x"
		if _, err := k.Open(sealed, moved); !errors.Is(err, ErrAuthentication) {
			t.Fatalf("Open with another principal error = %v, want %v", err, ErrAuthentication)
		}
	})
}

func FuzzParseMasterKey(f *testing.F) {
	key := masterKey(0xfb)
	for _, s := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key),
		base64.RawURLEncoding.EncodeToString(key),
		" " + base64.StdEncoding.EncodeToString(key) + "\n",
		base64.StdEncoding.EncodeToString(key[:31]),
		base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 0)),
		hex.EncodeToString(key),
		"",
		"===",
		"not base64 at all",
		"\x00\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseMasterKey(s)
		if err != nil {
			if key != nil {
				t.Errorf("ParseMasterKey returned a key with error %v", err)
			}
			if !masterKeyErrRE.MatchString(err.Error()) {
				t.Errorf("ParseMasterKey(%q) error %q is not one of the fixed messages", s, err)
			}
			return
		}
		if len(key) != keySize {
			t.Fatalf("ParseMasterKey(%q) = %d bytes, want %d", s, len(key), keySize)
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			again, err := ParseMasterKey(enc.EncodeToString(key))
			if err != nil || !bytes.Equal(again, key) {
				t.Fatalf("ParseMasterKey(re-encoded) = %x, %v; want %x", again, err, key)
			}
		}
	})
}

func FuzzImportKeyring(f *testing.F) {
	master := masterKey(0x77)
	k := testKeyring(f, fixedKey("11111111", 3), fixedKey("22222222", 4))
	blob, err := k.Export(master)
	if err != nil {
		f.Fatal(err)
	}
	otherBlob, err := k.Export(masterKey(0x78))
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{
		blob,
		otherBlob,
		blob[:len(blob)-2],
		nil,
		[]byte("{}"),
		[]byte("null"),
		[]byte("[]"),
		[]byte(`{"format":"gatehouse-keyring","version":1,"master_key_fingerprint":"00000000","primary":"a","keys":[]}`),
		[]byte(`{"format":"gatehouse-keyring","version":1,"master_key_fingerprint":"` + Fingerprint(master) + `","primary":"a","keys":[{"id":"a","sealed":""}]}`),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ImportKeyring(master, b)
		if err != nil {
			if got != nil {
				t.Errorf("ImportKeyring returned a keyring with error %v", err)
			}
			assertNoSecret(t, err.Error(), master)
			return
		}
		if got.PrimaryID() == "" {
			t.Fatalf("imported keyring has no primary")
		}
		ct, err := got.Seal([]byte("x"), aadShared)
		if err != nil {
			t.Fatalf("Seal with imported keyring: %v", err)
		}
		if pt, err := got.Open(ct, aadShared); err != nil || string(pt) != "x" {
			t.Fatalf("Open with imported keyring = %q, %v", pt, err)
		}
	})
}
