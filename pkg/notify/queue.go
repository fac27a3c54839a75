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

// keyedQueue runs jobs in order per key and concurrently across keys (at most limit at once),
// so a hung script of one instance never delays another instance's notification. It holds at
// most size jobs in all; push never blocks and counts what it drops.
type keyedQueue[T any] struct {
	mu      sync.Mutex
	pending map[string][]T
	running map[string]bool
	total   int
	size    int
	closed  bool // set before the owner waits: no worker may start after that
	ctx     context.Context
	wg      *sync.WaitGroup
	sem     chan struct{}
	handle  func(context.Context, T)

	dropped, done atomic.Uint64
}

func newKeyedQueue[T any](size, limit int, handle func(context.Context, T)) *keyedQueue[T] {
	if size <= 0 {
		size = 1024
	}
	if limit <= 0 {
		limit = 32
	}
	return &keyedQueue[T]{pending: map[string][]T{}, running: map[string]bool{}, size: size,
		sem: make(chan struct{}, limit), handle: handle}
}

func (q *keyedQueue[T]) push(key string, v T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total >= q.size || q.closed || (q.ctx != nil && q.ctx.Err() != nil) {
		q.dropped.Add(1)
		return false
	}
	q.pending[key] = append(q.pending[key], v)
	q.total++
	q.startLocked(key)
	return true
}

// startLocked starts key's worker once the queue runs (q.ctx set) and none is running.
func (q *keyedQueue[T]) startLocked(key string) {
	if q.ctx == nil || q.closed || q.running[key] {
		return
	}
	q.running[key] = true
	q.wg.Add(1)
	go q.work(key)
}

// start begins delivery (workers for what was queued before) under ctx; wg is the owner's.
func (q *keyedQueue[T]) start(ctx context.Context, wg *sync.WaitGroup) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ctx, q.wg = ctx, wg
	for key := range q.pending {
		q.startLocked(key)
	}
}

// close stops new workers from starting; call it before waiting for the running ones.
func (q *keyedQueue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
}

func (q *keyedQueue[T]) work(key string) {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		list := q.pending[key]
		if len(list) == 0 || q.ctx.Err() != nil {
			q.total -= len(list)
			q.dropped.Add(uint64(len(list)))
			delete(q.pending, key)
			delete(q.running, key)
			q.mu.Unlock()
			return
		}
		v := list[0]
		q.pending[key] = list[1:]
		q.mu.Unlock()

		select {
		case q.sem <- struct{}{}:
			q.handle(q.ctx, v)
			<-q.sem
			q.done.Add(1)
		case <-q.ctx.Done():
			q.dropped.Add(1)
		}
		q.mu.Lock()
		q.total--
		q.mu.Unlock()
	}
}

func (q *keyedQueue[T]) stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return QueueStats{Delivered: q.done.Load(), Dropped: q.dropped.Load(), Pending: q.total}
}
