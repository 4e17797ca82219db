package limit

import "time"

// endWindowFull ends a full window of jobs of latency d at the limit.
func (g *Gradient) endWindowFull(d time.Duration) {
	g.n, g.ok, g.sum, g.peak = 1, 1, d, g.limit
	g.endWindow()
}
