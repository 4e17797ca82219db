package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// status shows a phase's figures while it runs: a line redrawn in place
// every 100ms on a terminal, a new line every second otherwise.
type status struct {
	t       *tour
	start   time.Time
	length  time.Duration // how long the phase runs; 0 for a phase of total jobs
	total   int           // jobs the phase runs, with done the count so far
	done    func() int
	reports []*report
	extra   func() string // more figures, or nil
	stop    func()
}

// watch starts the status of a phase that runs for length.
func (t *tour) watch(length time.Duration, reports ...*report) *status {
	return t.startStatus(&status{length: length, reports: reports})
}

// watchJobs starts the status of a phase that runs total jobs; done says
// how many have finished.
func (t *tour) watchJobs(total int, done func() int, reports ...*report) *status {
	return t.startStatus(&status{total: total, done: done, reports: reports})
}

func (t *tour) startStatus(s *status) *status {
	s.t, s.start = t, time.Now()
	period := time.Second
	if t.live {
		period = 100 * time.Millisecond
	}
	s.stop = every(period, func() {
		if t.live {
			t.printf("\r\033[K%s", s.line())
		} else {
			t.printf("%s\n", s.line())
		}
	})
	return s
}

// end stops the status line, clears it from a terminal, and sets the
// reports' elapsed time.
func (s *status) end() {
	s.stop()
	if s.t.live {
		s.t.printf("\r\033[K")
	}
	for _, r := range s.reports {
		r.elapsed = time.Since(s.start)
	}
}

// line is the status: how far the phase is, jobs, rate, median latency and
// refusals so far.
func (s *status) line() string {
	elapsed := time.Since(s.start)
	var sum figures
	for _, r := range s.reports {
		f := r.figures()
		sum.jobs += f.jobs
		sum.ok += f.ok
		sum.failed += f.failed
		sum.refused += f.refused
		sum.lat = append(sum.lat, f.lat...)
	}
	slices.Sort(sum.lat)
	var b strings.Builder
	if s.total > 0 {
		fmt.Fprintf(&b, "  at %.1fs: %d/%d jobs done", elapsed.Seconds(), s.done(), s.total)
	} else {
		fmt.Fprintf(&b, "  at %.1fs/%.1fs: %d jobs", elapsed.Seconds(), s.length.Seconds(), sum.jobs)
	}
	fmt.Fprintf(&b, ", %.0f ok/s, p50 %s, %d refused, %d failed",
		float64(sum.ok)/elapsed.Seconds(), sum.pct(50), sum.refused, sum.failed)
	if s.extra != nil {
		b.WriteString(", " + s.extra())
	}
	return b.String()
}

// show prints a report's figures, under label if there are several.
func (t *tour) show(label string, r *report) {
	f := r.figures()
	if label != "" {
		label += " "
	}
	t.printf("  %s%d jobs: %d ok, %d failed, %d refused; %.0f ok/s; latency p50 %s, p99 %s\n",
		label, f.jobs, f.ok, f.failed, f.refused,
		float64(f.ok)/r.elapsed.Seconds(), f.pct(50), f.pct(99))
	if f.refused > 0 {
		t.printf("  %srefused by %s\n", strings.Repeat(" ", len(label)), refusals(r))
	}
}

// refusals lists r's refusals by guard: "breaker 56, ratelimit 2160".
func refusals(r *report) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	for guard, n := range r.refused {
		parts = append(parts, fmt.Sprintf("%s %d", guard, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// summary prints one row per report.
func (t *tour) summary(rows []*report) {
	t.printf("%-18s %7s %7s %7s %8s %8s %9s %9s\n",
		"summary", "jobs", "ok", "failed", "refused", "ok/s", "p50", "p99")
	for _, r := range rows {
		f := r.figures()
		t.printf("%-18s %7d %7d %7d %8d %8.0f %9s %9s\n", r.name, f.jobs, f.ok, f.failed,
			f.refused, float64(f.ok)/r.elapsed.Seconds(), f.pct(50), f.pct(99))
	}
}

// marks is how many marks wide a sparkline is.
const marks = 40

// chart prints a sparkline of values sampled every period, on the scale ▁ 0
// to █ top, with its time axis below: the labels at their marks.
func (t *tour) chart(name string, values []int, period time.Duration, top int, unit, axis string, labels ...label) {
	span := period * time.Duration(len(values))
	n := min(len(values), marks) // marks drawn
	t.printf("  %-10s %s  scale: ▁ 0 to █ %d %s\n", name, sparkline(values, top), top, unit)
	t.printf("  %-10s %s  time: 0 to %s, %s a mark\n", axis, ruler(labels, span, n),
		round(span), round(span/time.Duration(max(n, 1))))
}

// label is a text on a chart's time axis, starting at a time.
type label struct {
	at   time.Duration
	text string
}

// ruler writes the labels on a line of marks characters, n of which stand
// for span.
func ruler(labels []label, span time.Duration, n int) string {
	line := []rune(strings.Repeat(" ", marks))
	for _, l := range labels {
		i := min(int(float64(l.at)/float64(max(span, 1))*float64(n)+0.5), marks-1)
		for j, r := range l.text {
			if i+j < marks {
				line[i+j] = r
			}
		}
	}
	return string(line)
}

// sparkline draws values as block characters on a fixed scale, ▁ for 0 up
// to █ for top (more draws as █), at most marks wide: each mark is the peak
// of the values it stands for.
func sparkline(values []int, top int) string {
	levels := []rune("▁▂▃▄▅▆▇█")
	if len(values) > marks {
		w := make([]int, marks)
		for i, v := range values {
			j := i * marks / len(values)
			w[j] = max(w[j], v)
		}
		values = w
	}
	var b strings.Builder
	for _, v := range values {
		i := (v*(len(levels)-1) + top/2) / max(top, 1)
		b.WriteRune(levels[min(max(i, 0), len(levels)-1)])
	}
	for range marks - len(values) {
		b.WriteByte(' ')
	}
	return b.String()
}
