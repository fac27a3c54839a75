package loader

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/xalived/xalived/pkg/vrrp"
)

// ReadEvents delivers ring buffer events on out until ctx is done (it then returns nil) or
// reading fails. It blocks: the caller runs it in a goroutine it owns. Events the program
// could not queue are counted in Counters.EventsLost; on seeing those grow, read the peer
// records. Only one reader at a time.
func (d *Dataplane) ReadEvents(ctx context.Context, out chan<- Event) error {
	rd, err := ringbuf.NewReader(d.maps.Events)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	stop := make(chan struct{})
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			_ = rd.Close() // interrupts ReadInto (SetDeadline would wait for its lock)
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
		_ = rd.Close()
	}()

	var rec ringbuf.Record
	for {
		if ctx.Err() != nil {
			return nil
		}
		if err := rd.ReadInto(&rec); err != nil {
			if ctx.Err() != nil && (errors.Is(err, os.ErrClosed) || errors.Is(err, ringbuf.ErrClosed)) {
				return nil
			}
			return fmt.Errorf("read events: %w", err)
		}
		var raw xdpXaEvent
		if err := decodeEvent(rec.RawSample, &raw); err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		ev := eventFromRaw(raw)
		select {
		case out <- ev:
		case <-ctx.Done():
			return nil
		}
	}
}

func decodeEvent(b []byte, raw *xdpXaEvent) error {
	if err := binary.Read(bytes.NewReader(b), binary.NativeEndian, raw); err != nil {
		return fmt.Errorf("decode event: %w", err)
	}
	return nil
}

func eventFromRaw(raw xdpXaEvent) Event {
	return Event{
		Time:     time.Duration(raw.TimeNs),
		Key:      keyFromRaw(raw.Key),
		Type:     EventType(raw.Type),
		Reason:   vrrp.DropReason(raw.Reason),
		Addr:     addrFrom(Family(raw.Key.Family), raw.Addr),
		Priority: raw.Priority,
		Interval: raw.Interval,
	}
}
