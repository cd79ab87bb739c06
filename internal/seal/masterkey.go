package seal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

const (
	envMasterKey   = "GATEHOUSE_MASTER_KEY"
	devKeyFileName = "master.key"
	// maxKeyFileSize bounds what is read from a key file: the key is 44 characters of
	// base64, and anything much larger is not a key file.
	maxKeyFileSize = 4096
	fingerprintLen = 8
	// fingerprintLabel makes the fingerprint a hash of this use only, not a plain
	// SHA-256 of the key that might be compared against other systems' hashes.
	fingerprintLabel = "gatehouse/v1 master key fingerprint"
)

// Fingerprint identifies a master key without revealing it: the first 8 hex characters
// of SHA-256 over a fixed label, a zero byte and the key. 32 bits are enough to tell two
// keys apart in an error message and far too few to help anyone guess a 256-bit key.
func Fingerprint(master []byte) string {
	h := sha256.New()
	h.Write([]byte(fingerprintLabel))
	h.Write([]byte{0})
	h.Write(master)
	return hex.EncodeToString(h.Sum(nil))[:fingerprintLen]
}

// ParseMasterKey decodes a master key given as base64 (standard or URL alphabet,
// padded or not, surrounding whitespace ignored) of exactly 32 bytes, as made by
// `openssl rand -base64 32`. Its errors say what is wrong and never quote the input,
// which may be a real key with a typo.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("master key is empty; want base64 of %d bytes", keySize)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != keySize {
			return nil, fmt.Errorf("master key must be base64 of %d bytes, got %d bytes", keySize, len(key))
		}
		return key, nil
	}
	return nil, fmt.Errorf("master key is not valid base64; want base64 of %d bytes", keySize)
}

// LoadMasterKey finds the master key, in this order:
//
//  1. envValue (the value of GATEHOUSE_MASTER_KEY), if not empty;
//  2. keyFile, if not empty: a file holding the base64 key;
//  3. dataDir/master.key, for development: read if it exists, otherwise a fresh random
//     key is written there (mode 0600, creating dataDir with mode 0700) and generated
//     is true, so that the caller can say loudly that this is not for production.
//
// Key files must not be accessible to group or others (mode&0o077 == 0): a key anyone
// on the host can read protects nothing, so such a file is refused rather than warned
// about. source describes where the key came from ("GATEHOUSE_MASTER_KEY",
// "file /etc/gatehouse/master.key", "generated file /data/master.key (development
// only)"). Errors name the source, never its content.
func LoadMasterKey(envValue, keyFile, dataDir string) (key []byte, source string, generated bool, err error) {
	switch {
	case envValue != "":
		key, err := ParseMasterKey(envValue)
		if err != nil {
			return nil, "", false, fmt.Errorf("load master key from %s: %w", envMasterKey, err)
		}
		return key, envMasterKey, false, nil
	case keyFile != "":
		key, err := readKeyFile(keyFile)
		if err != nil {
			return nil, "", false, fmt.Errorf("load master key: %w", err)
		}
		return key, "file " + keyFile, false, nil
	case dataDir != "":
		key, source, generated, err := loadOrGenerate(dataDir)
		if err != nil {
			return nil, "", false, fmt.Errorf("load master key: %w", err)
		}
		return key, source, generated, nil
	default:
		return nil, "", false, fmt.Errorf("load master key: none configured: set %s or a key file", envMasterKey)
	}
}

// readKeyFile reads and parses a key file after checking its permissions on the open
// file itself, so that the file checked is the file read.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("master key file %s is not a regular file", path)
	}
	// Windows reports synthetic permission bits (0666 or 0444) that say nothing about
	// who may read the file, so the check would refuse every file there.
	if perm := fi.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o, so group or others may access it; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read master key file %s: %w", path, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("master key file %s is larger than %d bytes; it should hold only the base64 key", path, maxKeyFileSize)
	}
	key, err := ParseMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return key, nil
}

// loadOrGenerate implements the development fallback of LoadMasterKey.
func loadOrGenerate(dataDir string) (key []byte, source string, generated bool, err error) {
	path := filepath.Join(dataDir, devKeyFileName)
	existing := "file " + path + " (development only)"

	key, err = readKeyFile(path)
	if err == nil {
		return key, existing, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", false, err
	}

	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", false, fmt.Errorf("create data directory for master key: %w", err)
	}
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", false, fmt.Errorf("generate master key: %w", err)
	}
	// O_EXCL: never overwrite a key (that would orphan every secret sealed under it) and
	// never follow a symlink planted at the path.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our create: use its key.
		key, err := readKeyFile(path)
		if err != nil {
			return nil, "", false, err
		}
		return key, existing, false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("create master key file: %w", err)
	}
	if err := writeKeyFile(f, key); err != nil {
		os.Remove(path) // a half-written key file would fail every later start
		return nil, "", false, fmt.Errorf("write master key file %s: %w", path, err)
	}
	return key, "generated file " + path + " (development only)", true, nil
}

func writeKeyFile(f *os.File, key []byte) error {
	// The umask can only remove bits from 0600, but set it explicitly so that the file
	// is readable by its owner whatever the umask.
	err := f.Chmod(0o600)
	if err == nil {
		_, err = io.WriteString(f, base64.StdEncoding.EncodeToString(key)+"\n")
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
