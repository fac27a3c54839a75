package notify

import (
	"context"
	"sync"
	"sync/atomic"
)

// queue is an ordered, bounded work queue drained by one goroutine. push never blocks: when the
// queue is full the item is dropped and counted.
type queue[T any] struct {
	ch      chan T
	dropped atomic.Uint64
	done    atomic.Uint64
	handle  func(context.Context, T)
}

func newQueue[T any](size int, handle func(context.Context, T)) *queue[T] {
	if size <= 0 {
		size = 1024
	}
	return &queue[T]{ch: make(chan T, size), handle: handle}
}

func (q *queue[T]) push(v T) bool {
	select {
	case q.ch <- v:
		return true
	default:
		q.dropped.Add(1)
		return false
	}
}

// run drains the queue until ctx ends; the items still queued then are dropped and counted.
func (q *queue[T]) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case <-q.ch:
					q.dropped.Add(1)
				default:
					return
				}
			}
		case v := <-q.ch:
			q.handle(ctx, v)
			q.done.Add(1)
		}
	}
}

// QueueStats counts what one delivery queue did.
type QueueStats struct {
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
	Pending   int    `json:"pending"`
}

func (q *queue[T]) stats() QueueStats {
	return QueueStats{Delivered: q.done.Load(), Dropped: q.dropped.Load(), Pending: len(q.ch)}
}
