package crew_test

import (
	"context"
	"fmt"
)

// nilCtx is a nil context.Context, for bad-input tests.
var nilCtx context.Context

func fmtWrap(err error) error { return fmt.Errorf("calling downstream: %w", err) }
