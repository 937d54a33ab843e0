//go:build !unix

package ingest

import "os"

// devIno is unavailable here; the identity falls back to path, size and
// modification time.
func devIno(os.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
