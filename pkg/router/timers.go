package router

import (
	"container/heap"
	"time"

	"github.com/xalived/xalived/pkg/vrrp"
)

// timerEntry is one timer of one instance; it sits in the heap while armed.
type timerEntry struct {
	at    time.Time
	in    *instance
	t     vrrp.Timer
	index int // position in the heap, -1 when disarmed
}

// timerHeap is the single timer of the router: a min-heap of armed timers by deadline.
type timerHeap []*timerEntry

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].t < h[j].t // master-down before advert at the same instant
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	e := x.(*timerEntry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}

func (h *timerHeap) arm(e *timerEntry, at time.Time) {
	e.at = at
	if e.index >= 0 {
		heap.Fix(h, e.index)
		return
	}
	heap.Push(h, e)
}

func (h *timerHeap) disarm(e *timerEntry) {
	if e.index >= 0 {
		heap.Remove(h, e.index)
	}
}
