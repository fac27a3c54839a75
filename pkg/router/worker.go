package router

import "sync"

// worker runs host changes and notifications in order on one goroutine, so that netlink
// or a slow notifier never delays the advert loop. VIP and GARP jobs are coalesced per
// instance (vipSlot: at most one of each waits), so under flapping the queue holds
// notifications and no superseded host work; nothing is queued per advert.
type worker struct {
	mu     sync.Mutex
	jobs   []func()
	closed bool
	wake   chan struct{}
}

func newWorker() *worker { return &worker{wake: make(chan struct{}, 1)} }

func (w *worker) push(f func()) {
	w.mu.Lock()
	w.jobs = append(w.jobs, f)
	w.mu.Unlock()
	w.signal()
}

func (w *worker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// close lets run return once the queue is empty.
func (w *worker) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.signal()
}

func (w *worker) run() {
	for {
		w.mu.Lock()
		jobs, closed := w.jobs, w.closed
		w.jobs = nil
		w.mu.Unlock()
		for _, j := range jobs {
			j()
		}
		if len(jobs) > 0 {
			continue
		}
		if closed {
			return
		}
		<-w.wake
	}
}
