package crew

import "math"

// Saturating arithmetic for sizes and counts: math.MaxInt means "no
// bound", and a sum or product that would overflow stays at the bound
// instead of wrapping to a negative number that refuses everything.

// satAdd returns a+b for a, b >= 0, or math.MaxInt if that overflows.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
