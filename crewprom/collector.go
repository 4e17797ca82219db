package crewprom

import (
	"fmt"
	"runtime/debug"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crew-go/crew"
)

// series is one metric family a Stats collector exports: its Desc, its
// type, and how to read its value from a snapshot S.
type series[S any] struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*S) float64
}

// statsCollector reads a snapshot with stats and exports it as series. It
// is what PoolCollector, BreakerCollector and LimiterCollector are made of.
type statsCollector[S any] struct {
	stats  func() S
	series []series[S]
	// extra emits the series that do not fit one value per family (the
	// breaker's state, one series per state); nil if none.
	extraDescs []*prometheus.Desc
	extra      func(s *S, ch chan<- prometheus.Metric)
}

func (c *statsCollector[S]) describe(ch chan<- *prometheus.Desc) {
	for _, s := range c.series {
		ch <- s.desc
	}
	for _, d := range c.extraDescs {
		ch <- d
	}
}

// collect reads one snapshot and sends every series from it. A panic in
// the stats func is not passed on to the registry's goroutine, where it
// would end the process: it becomes an invalid metric, so the scrape fails
// with the panic as its error (promhttp answers 500 by default) and the
// next one tries again.
func (c *statsCollector[S]) collect(ch chan<- prometheus.Metric) {
	s, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.series[0].desc, err)
		return
	}
	for _, m := range c.series {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, m.value(&s))
	}
	if c.extra != nil {
		c.extra(&s, ch)
	}
}

// read calls the stats func, containing a panic as a *crew.PanicError.
func (c *statsCollector[S]) read() (s S, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &crew.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return c.stats(), nil
}

// newSeries returns a series of family name under namespace crew, with
// the constant label label=value.
func newSeries[S any](name, help string, kind prometheus.ValueType, label, value string, v func(*S) float64) series[S] {
	return series[S]{
		desc:  prometheus.NewDesc("crew_"+name, help, nil, prometheus.Labels{label: value}),
		kind:  kind,
		value: v,
	}
}

// checkName panics, naming ctor, if the instance name given for label is
// not a usable label value.
func checkName(ctor, label, name string) {
	switch {
	case name == "":
		panic(fmt.Sprintf("crewprom: %s: the %s name is empty", ctor, label))
	case !utf8.ValidString(name):
		panic(fmt.Sprintf("crewprom: %s: the %s name %q is not valid UTF-8", ctor, label, name))
	}
}

// checkStats panics, naming ctor, if stats is nil.
func checkStats[S any](ctor string, stats func() S) {
	if stats == nil {
		panic(fmt.Sprintf("crewprom: %s: the stats func is nil", ctor))
	}
}
