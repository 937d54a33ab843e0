//go:build unix

package ingest

import (
	"os"
	"syscall"
)

func devIno(fi os.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	// The field types differ between platforms, hence the conversions.
	return uint64(st.Dev), uint64(st.Ino), true
}
