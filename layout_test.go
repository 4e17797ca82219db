package crew

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestListedTypesPutTheirLinksFirst pins what internal/list and
// internal/queue require: an element embeds its links as its first field,
// where the list finds them. Moving the field corrupts memory; this fails
// first.
func TestListedTypesPutTheirLinksFirst(t *testing.T) {
	assert.Zero(t, unsafe.Offsetof(task[int]{}.Node))
	assert.Zero(t, unsafe.Offsetof(worker{}.Links))
	assert.Zero(t, unsafe.Offsetof(waiter[int]{}.Links))
	assert.Zero(t, unsafe.Offsetof(batch[int, int]{}.Links))
	assert.Zero(t, unsafe.Offsetof(retryWait[int]{}.Links))
	assert.Zero(t, unsafe.Offsetof(tokenWaiter{}.Links))
}

// TestTaskIsSixtyFourBytes: what every queued job costs the pool besides
// its Future (the priority pool's memory per queued job depends on it).
func TestTaskIsSixtyFourBytes(t *testing.T) {
	assert.EqualValues(t, 64, unsafe.Sizeof(task[int]{}))
}
