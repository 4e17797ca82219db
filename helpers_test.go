package crew_test

import "fmt"

func fmtWrap(err error) error { return fmt.Errorf("calling downstream: %w", err) }
