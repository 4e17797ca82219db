package benchmarks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that every pool a benchmark built was released: no
// goroutine may outlive the run. IgnoreCurrent skips what existed before the
// first benchmark (ants starts a default pool at import).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent())
}
