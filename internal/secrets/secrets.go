// Package secrets keeps the credentials vakt generates for its embedded
// listeners (ClickHouse endpoint accounts, NATS users, the dashboard token)
// in the data directory, readable by its owner only. vakt's own commands read
// them from there; people and other clients are told where they are.
package secrets

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DirName is the folder under the data dir that holds generated credentials.
const DirName = "credentials"

// Dir is the credentials folder of dataDir.
func Dir(dataDir string) string { return filepath.Join(dataDir, DirName) }

// Path is the file that holds the secret name of dataDir.
func Path(dataDir, name string) string { return filepath.Join(Dir(dataDir), name) }

// SecureDataDir creates dataDir (and its credentials folder) if needed and
// makes both owner-only (0700): the data dir holds the NATS store, the salts
// and the engine's parts.
func SecureDataDir(dataDir string) error {
	for _, d := range []string{dataDir, Dir(dataDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("data dir: make %s owner-only: %w", d, err)
		}
	}
	return nil
}

// Ensure returns the secret name of dataDir, generating it (32 random bytes,
// hex) on first use. The file is written owner-only and atomically, so
// concurrent first starts agree on one value.
func Ensure(dataDir, name string) (string, error) {
	if v, err := Read(dataDir, name); err == nil {
		return v, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := SecureDataDir(dataDir); err != nil {
		return "", err
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate %s: %w", name, err)
	}
	v := hex.EncodeToString(b[:])
	tmp, err := os.CreateTemp(Dir(dataDir), "."+name+".*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(v + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	// Link, not rename: the first writer wins and later ones read its value.
	if err := os.Link(tmp.Name(), Path(dataDir, name)); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("write %s: %w", name, err)
	}
	return Read(dataDir, name)
}

// Read returns the secret name of dataDir. It refuses a file that others
// may read: a leaked credential is worse than a failed start.
func Read(dataDir, name string) (string, error) {
	p := Path(dataDir, name)
	st, err := os.Stat(p)
	if err != nil {
		return "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s is readable by others (mode %v): chmod 600 %s", p, st.Mode().Perm(), p)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty: delete it and vakt generates a new one at the next start", p)
	}
	return v, nil
}
