package ring

// Cap returns the ring's slots, for the tests.
func (r *Ring[V]) Cap() int { return len(r.buf) }
