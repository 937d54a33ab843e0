package ingest

import (
	"syscall"
	"unsafe"
)

// socketUnread returns the bytes received on socket fd and not yet read
// (FIONREAD, called TIOCINQ on Linux); 0 on error.
func socketUnread(fd uintptr) int {
	var n int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0
	}
	return int(n)
}
