//go:build unix

package benchmarks

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) this process has used, so
// that a benchmark can report its own cost apart from the wall time, which
// other jobs on a shared machine inflate.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
