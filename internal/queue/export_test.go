package queue

// For the tests.

const MaxSpareLevels = maxSpareLevels

// KeptLevels returns how many levels the queue keeps, empty or not.
func (q *Priority[E]) KeptLevels() int { return len(q.levels) }
