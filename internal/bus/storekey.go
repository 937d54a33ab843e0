package bus

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/vakt-dev/vakt/internal/secrets"
)

// storeKeyIDFile, in the JetStream store directory, identifies the key the
// store is encrypted with (a hash, which tells nothing of the key), so that
// a missing or different key is refused with a fix instead of nats-server
// failing to load the streams.
const storeKeyIDFile = "vakt-store-key.id"

// StoreKeyState says what StoreKey found.
type StoreKeyState int

// States of StoreKey.
const (
	KeyInUse     StoreKeyState = iota // the store is encrypted with this key
	KeyGenerated                      // a new key for a new store
	KeyEncrypts                       // a store written in the clear is encrypted at this start
)

// StoreKey returns the key that encrypts the JetStream store in storeDir:
// fromEnv when set, else the content of keyFile, generated (owner-only) for
// a store that was never encrypted. The key file must live outside the data
// dir: whoever reads the data dir (a backup, a copied disk, a query
// reaching files) then finds only ciphertext. A store encrypted before
// whose key is missing or different is an error naming the fix.
func StoreKey(storeDir, keyFile, fromEnv string) (string, StoreKeyState, error) {
	idPath := filepath.Join(storeDir, storeKeyIDFile)
	wantID, idErr := os.ReadFile(idPath)
	if idErr != nil && !errors.Is(idErr, fs.ErrNotExist) {
		return "", 0, fmt.Errorf("nats store key: %w", idErr)
	}
	encrypted := idErr == nil
	key, state := fromEnv, KeyInUse
	if key == "" {
		var err error
		key, err = readKeyFile(keyFile)
		switch {
		case errors.Is(err, fs.ErrNotExist) && encrypted:
			return "", 0, fmt.Errorf("the NATS store %s is encrypted with the key of nats.store_key_file, and %s is missing: restore it (or give the key in VAKT_NATS_STORE_KEY), or delete %s to start afresh, losing the salts and the events not stored yet", storeDir, keyFile, storeDir)
		case errors.Is(err, fs.ErrNotExist):
			if key, err = writeKeyFile(keyFile); err != nil {
				return "", 0, err
			}
			state = KeyGenerated
		case err != nil:
			return "", 0, err
		}
	}
	id := keyID(key)
	if encrypted {
		if strings.TrimSpace(string(wantID)) != id {
			return "", 0, fmt.Errorf("the NATS store %s is encrypted with another key than the one of nats.store_key_file (%s) or VAKT_NATS_STORE_KEY: give the key it was written with", storeDir, keyFile)
		}
		return key, KeyInUse, nil
	}
	if _, err := os.Stat(filepath.Join(storeDir, "jetstream")); err == nil {
		state = KeyEncrypts
	}
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return "", 0, fmt.Errorf("nats store: %w", err)
	}
	if err := os.WriteFile(idPath, []byte(id+"\n"), 0o600); err != nil {
		return "", 0, fmt.Errorf("nats store key: %w", err)
	}
	return key, state, nil
}

// StoreEncrypted reports whether the store in storeDir was encrypted by
// StoreKey.
func StoreEncrypted(storeDir string) bool {
	_, err := os.Stat(filepath.Join(storeDir, storeKeyIDFile))
	return err == nil
}

func keyID(key string) string {
	h := sha256.Sum256([]byte("vakt nats store key id\x00" + key))
	return "sha256:" + hex.EncodeToString(h[:16])
}

func readKeyFile(path string) (string, error) {
	k, err := secrets.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("nats.store_key_file: %w", err)
	}
	return k, err
}

// writeKeyFile generates a key into path, owner-only; of concurrent first
// starts the first writer wins and the others read its key.
func writeKeyFile(path string) (string, error) {
	k, err := secrets.EnsureFile(path)
	if err != nil {
		return "", fmt.Errorf("nats.store_key_file: %w", err)
	}
	return k, nil
}

// StoreKeyFor returns the key that encrypts the embedded store in storeDir,
// or "" with encryption (nats.store_encryption) off; key
// (nats.store_key) or keyFile holds it.
func StoreKeyFor(storeDir string, encryption bool, keyFile, key string, log *slog.Logger) (string, error) {
	if !encryption {
		if StoreEncrypted(storeDir) {
			return "", fmt.Errorf("nats.store_encryption is off, but the NATS store %s is encrypted: turn it on again with its key", storeDir)
		}
		log.Warn("the NATS store keeps the salts in the clear (nats.store_encryption: false)")
		return "", nil
	}
	k, state, err := StoreKey(storeDir, keyFile, key)
	if err != nil {
		return "", err
	}
	switch state {
	case KeyGenerated:
		if key == "" {
			log.Info("generated the key that encrypts the NATS store; keep it (and back it up) apart from the data dir", "key_file", keyFile)
		}
	case KeyEncrypts:
		log.Warn("encrypting the NATS store written in the clear by an older vakt; the salts it held in the clear may remain in the disk's free blocks", "store", storeDir)
	}
	return k, nil
}
