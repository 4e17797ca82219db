package crew

import (
	"slices"
	"testing"
)

type node struct {
	links[*node]
	v int
}

func values(l *dlist[*node]) []int {
	var got []int
	for p := l.head; p != nil; p = p.next {
		got = append(got, p.v)
	}
	return got
}

func TestDlist(t *testing.T) {
	var l dlist[*node]
	ns := make([]*node, 5)
	for i := range ns {
		ns[i] = &node{v: i}
		l.push(ns[i])
	}
	for _, i := range []int{2, 0, 4} { // middle, head, tail
		if !l.remove(ns[i]) {
			t.Fatalf("remove(%d) = false for a member", i)
		}
	}
	if got := values(&l); !slices.Equal(got, []int{1, 3}) || l.n != 2 {
		t.Fatalf("after removes: %v (n %d), want [1 3]", got, l.n)
	}
	if l.remove(ns[2]) || l.remove(&node{}) {
		t.Fatal("remove of a non-member reported true")
	}
	if p := l.pop(); p != ns[1] || l.head != ns[3] || l.tail != ns[3] {
		t.Fatal("pop did not take the oldest")
	}
	l.pop()
	if l.pop() != nil || l.n != 0 || l.head != nil || l.tail != nil {
		t.Fatal("an emptied list is not empty")
	}
}
