package list_test

import (
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/internal/list"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type node struct {
	list.Links[node]
	v int
}

func TestNodePutsLinksFirst(t *testing.T) {
	assert.Zero(t, unsafe.Offsetof(node{}.Links))
}

func values(l *list.List[node]) []int {
	var got []int
	for p := l.Front(); p != nil; p = p.Next() {
		got = append(got, p.v)
	}
	return got
}

func TestList(t *testing.T) {
	var l list.List[node]
	assert.Nil(t, l.PopFront(), "empty")
	ns := make([]*node, 5)
	for i := range ns {
		ns[i] = &node{v: i}
		l.PushBack(ns[i])
	}
	for _, i := range []int{2, 0, 4} { // middle, front, back
		require.True(t, l.Remove(ns[i]), "remove(%d) of a member", i)
	}
	assert.Equal(t, []int{1, 3}, values(&l))
	assert.Equal(t, 2, l.Len())
	assert.False(t, l.Remove(ns[2]), "no longer a member")
	assert.False(t, l.Remove(&node{}), "never a member")
	assert.False(t, l.Contains(ns[0]))
	assert.True(t, l.Contains(ns[3]))
	assert.Same(t, ns[1], l.PopFront())
	assert.Same(t, ns[3], l.Front())
	assert.Same(t, ns[3], l.Back())
	l.PopFront()
	assert.Nil(t, l.PopFront())
	assert.Zero(t, l.Len())
	assert.Nil(t, l.Front())
	assert.Nil(t, l.Back())

	l.PushFront(ns[0])
	l.PushFront(ns[1])
	l.PushBack(ns[2])
	assert.Equal(t, []int{1, 0, 2}, values(&l), "PushFront prepends")
}

// TestListAgainstASlice drives a list and a slice with the same random
// operations and compares them after each.
func TestListAgainstASlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var l list.List[node]
	var model []*node
	for i := range 10000 {
		switch op := rng.IntN(4); {
		case op == 0:
			n := &node{v: i}
			l.PushBack(n)
			model = append(model, n)
		case op == 1:
			n := &node{v: i}
			l.PushFront(n)
			model = slices.Insert(model, 0, n)
		case op == 2 && len(model) > 0:
			require.Same(t, model[0], l.PopFront())
			model = model[1:]
		case op == 3 && len(model) > 0:
			j := rng.IntN(len(model))
			require.True(t, l.Remove(model[j]))
			model = slices.Delete(model, j, j+1)
		}
		require.Equal(t, len(model), l.Len())
	}
	var want []int
	for _, n := range model {
		want = append(want, n.v)
	}
	assert.Equal(t, want, values(&l))
}

func BenchmarkPushPop(b *testing.B) {
	var l list.List[node]
	ns := make([]node, 64)
	for i := range ns {
		l.PushBack(&ns[i])
	}
	for b.Loop() {
		l.PushBack(l.PopFront())
	}
}
