package ingest

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// File identity: a file is known by device and inode while it is open
// (fileKey), and what it holds by the generation id of its content (the
// fingerprint of its first line), which checkpoints and message ids use.

// Fingerprint: the generation id covers the first line that ends at or
// after fpMinBytes, or the first fpBytes bytes if no line ends before.
// Content shorter than that has no id yet and is not read until it grows.
const (
	fpMinBytes = 48
	fpBytes    = 1024
)

// fingerprintOf returns the generation id of content starting with head
// (at most fpBytes bytes) and how many bytes it covers; ok is false when
// head is too short to tell.
//
// The id is a hash of the first line with IP and e-mail addresses masked
// (maskLine): a plain hash of a log line could be reversed by trying every
// IPv4 address with the rest of the line, which the stored row gives away,
// and the id is kept at rest (checkpoints, message ids). The price: two
// files whose first lines differ only in the client address are taken for
// copies of one another.
func fingerprintOf(head []byte) (g string, n int, ok bool) {
	switch {
	case len(head) >= fpMinBytes && bytes.IndexByte(head[fpMinBytes-1:], '\n') >= 0:
		n = fpMinBytes + bytes.IndexByte(head[fpMinBytes-1:], '\n')
	case len(head) >= fpBytes:
		n = fpBytes
	default:
		return "", 0, false
	}
	sum := fpHash(head[:n])
	return hex.EncodeToString(sum[:16]), n, true
}

func fpHash(b []byte) [sha256.Size]byte { return sha256.Sum256(maskLine(b)) }

// readHead returns up to fpBytes of the start of a file's content,
// decompressed for a .gz file.
func readHead(f *os.File, gz bool) ([]byte, error) {
	buf := make([]byte, fpBytes)
	if !gz {
		n, err := f.ReadAt(buf, 0)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		return buf[:n], nil
	}
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, err
	}
	n, err := io.ReadFull(zr, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:n], nil
}

func isGzip(path string) bool { return strings.HasSuffix(path, ".gz") }

// otherCompressed reports a file compressed with something other than
// gzip, which is not read (a pattern like access.log* may match one).
func otherCompressed(path string) bool {
	switch filepath.Ext(path) {
	case ".bz2", ".xz", ".zst", ".lz4", ".lzma", ".Z", ".zip", ".7z":
		return true
	}
	return false
}

// fileKey identifies an open file: device and inode (where the platform
// has them; elsewhere a hash of the path).
type fileKey struct{ dev, ino uint64 }

func keyOf(path string, fi os.FileInfo) fileKey {
	if dev, ino, ok := devIno(fi); ok {
		return fileKey{dev, ino}
	}
	h := fnv.New64a()
	h.Write([]byte(path))
	return fileKey{0, h.Sum64()}
}
