package pseudonymize

import (
	"runtime"
	"syscall"
)

// threadCPU is the calling thread's CPU time in nanoseconds; it locks the
// goroutine to its thread, so a benchmark that calls it before and after
// its loop gets the loop's CPU time (cpu-ns/op), which, unlike ns/op, does
// not count the time spent waiting for a core on a loaded machine.
func threadCPU() int64 {
	runtime.LockOSThread()
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
