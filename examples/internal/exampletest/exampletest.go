// Package exampletest holds the checks the examples' smoke tests share: an
// example's output must read well on a terminal 100 columns wide.
package exampletest

import (
	"flag"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

// MaxColumns is the width every line of an example's output fits in.
const MaxColumns = 100

// escape matches the terminal control sequences the examples write (erase
// line).
var escape = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// ScreenLines returns out as a terminal shows it, line by line: each line
// that a carriage return redraws counts as one line per drawing, and
// control sequences take no room.
func ScreenLines(out string) []string {
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		for _, drawn := range strings.Split(line, "\r") {
			drawn = expandTabs(escape.ReplaceAllString(drawn, ""))
			if drawn != "" || !strings.Contains(line, "\r") {
				lines = append(lines, drawn)
			}
		}
	}
	return lines
}

// expandTabs replaces each tab with the spaces up to the next multiple of 8
// columns, as a terminal shows it.
func expandTabs(s string) string {
	var b strings.Builder
	col := 0
	for _, r := range s {
		if r == '\t' {
			n := 8 - col%8
			b.WriteString(strings.Repeat(" ", n))
			col += n
			continue
		}
		b.WriteRune(r)
		col++
	}
	return b.String()
}

// AssertReadable checks that out fits MaxColumns and holds no sign of a
// raw Go value or a formatting mistake: no "map[", no "&{", no "%!".
func AssertReadable(t testing.TB, out string) {
	t.Helper()
	for _, line := range ScreenLines(out) {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), MaxColumns, "too wide: %q", line)
	}
	for _, bad := range []string{"map[", "&{", "%!"} {
		assert.NotContains(t, out, bad)
	}
}

// AssertUsage checks that fs's -h prints its usage: the usage line and every
// flag with its default.
func AssertUsage(t testing.TB, fs *flag.FlagSet, name string) {
	t.Helper()
	var b strings.Builder
	fs.SetOutput(&b)
	assert.ErrorIs(t, fs.Parse([]string{"-h"}), flag.ErrHelp)
	usage := b.String()
	assert.Contains(t, usage, "go run ./examples/"+name)
	fs.VisitAll(func(f *flag.Flag) {
		assert.Contains(t, usage, "-"+f.Name)
		if !isZeroValue(f) { // the flag package prints no zero default
			assert.Contains(t, usage, f.DefValue, "the default of -%s", f.Name)
		}
	})
	AssertReadable(t, usage)
}

// isZeroValue reports whether f's default is its type's zero value, as
// the flag package decides whether to print it.
func isZeroValue(f *flag.Flag) bool {
	typ := reflect.TypeOf(f.Value)
	var zero reflect.Value
	if typ.Kind() == reflect.Pointer {
		zero = reflect.New(typ.Elem())
	} else {
		zero = reflect.Zero(typ)
	}
	return f.DefValue == zero.Interface().(flag.Value).String()
}
