//go:build !unix

package benchmarks

import "time"

// processCPU is not measured on this platform: cpu-ns/task is not reported.
func processCPU() time.Duration { return 0 }
