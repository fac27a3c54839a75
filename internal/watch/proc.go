package watch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// ProcKind says what happened to a process.
type ProcKind uint8

// Process events. Lost means events were dropped (a full queue or socket buffer): the reader
// must rescan /proc.
const (
	ProcExec ProcKind = iota + 1
	ProcFork
	ProcComm
	ProcExit
	ProcLost
)

// ProcEvent is one process event: PID is the process (thread group) id.
type ProcEvent struct {
	Kind ProcKind
	PID  int
}

// Proc event codes and connector ids from linux/cn_proc.h and linux/connector.h.
const (
	cnIdxProc         = 1
	cnValProc         = 1
	procCnMcastListen = 1
	procEventFork     = 0x00000001
	procEventExec     = 0x00000002
	procEventComm     = 0x00000200
	procEventExit     = 0x80000000
	cnMsgLen          = 20 // struct cn_msg without data
)

// Procs subscribes to the kernel's proc connector and delivers exec, fork, comm and exit events
// of processes (thread events are filtered out). It needs CAP_NET_ADMIN and the initial network
// namespace: elsewhere the kernel delivers nothing, so callers keep a slow rescan as well.
func Procs(ctx context.Context) (<-chan ProcEvent, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector bind: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	if err := unix.Sendto(fd, listenMsg(), 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector listen: %w", err)
	}
	f := os.NewFile(uintptr(fd), "proc-connector")
	// The kernel acknowledges the subscription with an event on the same multicast group. It
	// never arrives outside the initial network namespace, where the connector is silent, so
	// waiting for it tells the caller whether events will come at all.
	if err := awaitAck(f); err != nil {
		f.Close()
		return nil, err
	}
	ch := make(chan ProcEvent, 1024)
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		defer close(ch)
		buf := make([]byte, 1<<16)
		lost := false
		for {
			n, err := f.Read(buf)
			if err != nil {
				if errors.Is(err, unix.ENOBUFS) {
					lost = true
				} else if errors.Is(err, os.ErrClosed) || ctx.Err() != nil {
					return
				} else {
					deliver(ch, ProcEvent{Kind: ProcLost}, &lost)
					return
				}
			}
			if lost {
				lost = !send(ch, ProcEvent{Kind: ProcLost})
			}
			if n > 0 {
				parseProcEvents(buf[:n], func(ev ProcEvent) { deliver(ch, ev, &lost) })
			}
		}
	}()
	return ch, nil
}

func awaitAck(f *os.File) error {
	buf := make([]byte, 4096)
	deadline := time.Now().Add(time.Second)
	if err := f.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("proc connector: %w", err)
	}
	defer f.SetReadDeadline(time.Time{})
	n, err := f.Read(buf)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errors.New("proc connector: no events (the kernel reports them only to the initial network namespace)")
		}
		return fmt.Errorf("proc connector: %w", err)
	}
	if n < unix.NLMSG_HDRLEN+cnMsgLen {
		return errors.New("proc connector: short message")
	}
	return nil
}

// deliver queues ev, or remembers that an event was lost when the queue is full.
func deliver(ch chan ProcEvent, ev ProcEvent, lost *bool) {
	if *lost || !send(ch, ev) {
		*lost = true
	}
}

func send(ch chan ProcEvent, ev ProcEvent) bool {
	select {
	case ch <- ev:
		return true
	default:
		return false
	}
}

func listenMsg() []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+cnMsgLen+4)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.NLMSG_DONE)
	ne.PutUint32(b[12:], uint32(os.Getpid()))
	c := b[unix.NLMSG_HDRLEN:]
	ne.PutUint32(c[0:], cnIdxProc)
	ne.PutUint32(c[4:], cnValProc)
	ne.PutUint16(c[16:], 4)
	ne.PutUint32(c[cnMsgLen:], procCnMcastListen)
	return b
}

// parseProcEvents walks the netlink messages in b and calls fn for each process event.
// Layout after the cn_msg header: what u32, cpu u32, timestamp u64, then per event:
// fork: parent pid, parent tgid, child pid, child tgid; exec/comm/exit: pid, tgid, ...
func parseProcEvents(b []byte, fn func(ProcEvent)) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return
		}
		msg := b[unix.NLMSG_HDRLEN:l]
		if len(msg) >= cnMsgLen+16+16 {
			ev := msg[cnMsgLen:]
			what := ne.Uint32(ev[0:])
			d := ev[16:]
			switch what {
			case procEventFork:
				if cpid, ctgid := ne.Uint32(d[8:]), ne.Uint32(d[12:]); cpid == ctgid {
					fn(ProcEvent{Kind: ProcFork, PID: int(ctgid)})
				}
			case procEventExec, procEventComm, procEventExit:
				pid, tgid := ne.Uint32(d[0:]), ne.Uint32(d[4:])
				if pid != tgid {
					break // a thread
				}
				k := ProcExit
				if what == procEventExec {
					k = ProcExec
				} else if what == procEventComm {
					k = ProcComm
				}
				fn(ProcEvent{Kind: k, PID: int(tgid)})
			}
		}
		l = (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if l > len(b) {
			return
		}
		b = b[l:]
	}
}
