package check

import (
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The probes' socket calls never block (the socket is non-blocking), so they are made as raw
// system calls: syscall.Syscall tells the scheduler a goroutine may block, and a call that is
// slow only because the kernel runs the TCP handshake inline (as on a slow or emulated CPU)
// then makes the runtime hand the goroutine's P to another thread and take it back, a futex
// wakeup and a context switch or two per call.

// rawSockaddr is a sockaddr_in or sockaddr_in6 in kernel layout.
type rawSockaddr struct {
	in6 unix.RawSockaddrInet6 // large enough for both
	len uintptr
}

func makeRawSockaddr(ip netip.Addr, port uint16, zone uint32) *rawSockaddr {
	sa := new(rawSockaddr)
	if ip.Is4() {
		in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa.in6))
		in4.Family = unix.AF_INET
		p := (*[2]byte)(unsafe.Pointer(&in4.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		in4.Addr = ip.As4()
		sa.len = unix.SizeofSockaddrInet4
		return sa
	}
	sa.in6.Family = unix.AF_INET6
	p := (*[2]byte)(unsafe.Pointer(&sa.in6.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	sa.in6.Addr = ip.As16()
	sa.in6.Scope_id = zone
	sa.len = unix.SizeofSockaddrInet6
	return sa
}

func rawConnect(fd int, sa *rawSockaddr) error {
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa.in6)), sa.len)
	if e != 0 {
		return e
	}
	return nil
}

// rawRead and rawWrite are read(2) and write(2) on a non-blocking socket (EAGAIN when they
// would block).
func rawRead(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawClose(fd int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0); e != 0 {
		return e
	}
	return nil
}
