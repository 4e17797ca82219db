package exampletest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestScreenLines(t *testing.T) {
	for _, tt := range []struct {
		name string
		give string
		want []string
	}{
		{"plain", "a\nb\n", []string{"a", "b"}},
		{"blank line kept", "a\n\nb", []string{"a", "", "b"}},
		{"redrawn in place", "x\r\x1b[Kat 1s\r\x1b[Kat 2s\r\x1b[Kdone\n", []string{"x", "at 1s", "at 2s", "done"}},
		{"tab to the next stop", "  -q\n    \tquick", []string{"  -q", strings.Repeat(" ", 8) + "quick"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ScreenLines(tt.give))
		})
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, format)
}

func TestAssertReadable(t *testing.T) {
	for _, tt := range []struct {
		name string
		give string
		ok   bool
	}{
		{"fits", strings.Repeat("x", MaxColumns) + "\n", true},
		{"sparkline counted in runes", strings.Repeat("█", MaxColumns), true},
		{"too wide", strings.Repeat("x", MaxColumns+1), false},
		{"too wide once redrawn", "\r\x1b[K" + strings.Repeat("x", MaxColumns+1), false},
		{"raw map", "levels map[0:3]", false},
		{"raw struct pointer", "&{1 2}", false},
		{"format mistake", "%!d(string=x)", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			AssertReadable(r, tt.give)
			assert.Equal(t, tt.ok, len(r.failed) == 0, "failures: %v", r.failed)
		})
	}
}
