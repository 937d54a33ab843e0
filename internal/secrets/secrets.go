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

// Ensure returns the secret name of dataDir, generating it on first use
// (see EnsureFile).
func Ensure(dataDir, name string) (string, error) {
	if v, err := Read(dataDir, name); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	if err := SecureDataDir(dataDir); err != nil {
		return "", err
	}
	return EnsureFile(Path(dataDir, name))
}

// EnsureFile returns the secret in path, generating it (32 random bytes,
// hex) when the file does not exist. The file is written owner-only and
// atomically, so concurrent first starts agree on one value.
func EnsureFile(path string) (string, error) {
	if v, err := ReadFile(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	dir, name := filepath.Split(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(b[:]) + "\n")
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	// Link, not rename: the first writer wins and later ones read its value.
	if err == nil {
		if err = os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
			err = nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return ReadFile(path)
}

// Read returns the secret name of dataDir (see ReadFile).
func Read(dataDir, name string) (string, error) { return ReadFile(Path(dataDir, name)) }

// ReadFile returns the secret in path. It refuses a file that others may
// read: a leaked credential is worse than a failed start.
func ReadFile(p string) (string, error) {
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

// ValueOrFile returns value, or the trimmed content of file when set; key
// names the file's setting in errors.
func ValueOrFile(value, file, key string) (string, error) {
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}
