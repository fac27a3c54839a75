package vrrpsock

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// newRawSocket opens a non-blocking raw socket and wraps it in an *os.File so that reads and
// writes go through the runtime poller (deadlines, Close unblocking a reader).
func newRawSocket(family, proto int, name string) (*os.File, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("raw socket %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// newBlockingRawSocket opens a blocking raw socket: its *os.File stays out of the runtime
// poller, so reads block in the kernel (see Receiver.run).
func newBlockingRawSocket(family, proto int, name string) (*os.File, error) {
	fd, err := unix.Socket(family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return nil, fmt.Errorf("raw socket %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// control runs fn on the socket's descriptor.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// dropAll attaches a classic BPF filter that accepts nothing, for sockets that only send.
func dropAll(fd int) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fmt.Errorf("attach drop filter: %w", err)
	}
	return nil
}
