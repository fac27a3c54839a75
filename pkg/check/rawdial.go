package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Thousands of TCP_CHECK / HTTP_GET probes a second: net.Dialer costs a resolver pass over the
// literal address, getsockname/getpeername, TCP_NODELAY and a context watcher per connection.
// dialTCP opens the probe's socket directly (socket, the bind options, connect) and waits for
// the handshake through the runtime poller (os.NewFile on the non-blocking descriptor), so one
// probe costs socket, connect, fcntl, epoll_ctl x2, a second connect (the outcome) and close.

// deadlineCtx is ctx with a deadline but no timer of its own: the probe's socket deadline
// enforces it (scheduler.probe uses it for the socket checkers instead of context.WithTimeout,
// which arms and stops a timer per probe). Done and Err stay the parent's (shutdown).
type deadlineCtx struct {
	context.Context
	dl time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) {
	if p, ok := c.Context.Deadline(); ok && p.Before(c.dl) {
		return p, true
	}
	return c.dl, true
}

// sockaddr converts ip:port to a unix.Sockaddr; zone (an interface index) applies to IPv6.
func sockaddr(ip netip.Addr, port uint16, zone uint32) unix.Sockaddr {
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: int(port), Addr: ip.As4()}
	}
	return &unix.SockaddrInet6{Port: int(port), Addr: ip.As16(), ZoneId: zone}
}

// fileConn lets crypto/tls run on a socket opened by dialTCP.
type fileConn struct {
	*os.File
	local, remote net.Addr
}

func (c fileConn) LocalAddr() net.Addr  { return c.local }
func (c fileConn) RemoteAddr() net.Addr { return c.remote }

// dialTCP connects to connect_ip:connect_port with the checker's bind options (bindto,
// bind_port, bind_if, fwmark) before ctx's deadline. The returned file has that deadline set
// for all later reads and writes; stop undoes the cancellation hook (call it before Close).
func dialTCP(ctx context.Context, c Common) (f *os.File, stop func() bool, err error) {
	ip := c.ConnectIP.Unmap()
	if !ip.IsValid() {
		return nil, nil, errors.New("connect: no address")
	}
	family := unix.AF_INET6
	if ip.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socket: %w", err)
	}
	if err := prepareSocket(fd, ip, c); err != nil {
		_ = unix.Close(fd)
		return nil, nil, err
	}
	var zone uint32
	if c.BindIf != "" && ip.Is6() && ip.IsLinkLocalUnicast() {
		ifi, err := net.InterfaceByName(c.BindIf)
		if err != nil {
			_ = unix.Close(fd)
			return nil, nil, fmt.Errorf("bind_if %s: %w", c.BindIf, err)
		}
		zone = uint32(ifi.Index)
	}
	sa := sockaddr(ip, c.ConnectPort, zone)
	cerr := unix.Connect(fd, sa)
	switch cerr {
	case nil, unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	default:
		_ = unix.Close(fd)
		return nil, nil, connectErr(ip, c.ConnectPort, cerr)
	}
	f = os.NewFile(uintptr(fd), "tcp")
	if dl, ok := ctx.Deadline(); ok {
		if err := f.SetDeadline(dl); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("deadline: %w", err)
		}
	}
	stop = context.AfterFunc(ctx, func() { _ = f.SetDeadline(aLongTimeAgo) })
	if cerr != nil {
		if err := waitConnected(f, sa); err != nil {
			stop()
			_ = f.Close()
			return nil, nil, connectErr(ip, c.ConnectPort, err)
		}
	}
	return f, stop, nil
}

// prepareSocket applies bind_if, fwmark, bindto and bind_port.
func prepareSocket(fd int, ip netip.Addr, c Common) error {
	if c.BindIf != "" {
		if err := unix.BindToDevice(fd, c.BindIf); err != nil {
			return fmt.Errorf("bind_if %s: %w", c.BindIf, err)
		}
	}
	if c.FWMark != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, int(c.FWMark)); err != nil {
			return fmt.Errorf("fwmark %d: %w", c.FWMark, err)
		}
	}
	if !c.BindTo.IsValid() && c.BindPort == 0 {
		return nil
	}
	local := c.BindTo.Unmap()
	switch {
	case !local.IsValid() && ip.Is4():
		local = netip.IPv4Unspecified()
	case !local.IsValid():
		local = netip.IPv6Unspecified()
	case local.Is4() != ip.Is4():
		return fmt.Errorf("bindto %s: not the address family of %s", c.BindTo, ip)
	}
	var zone uint32
	if c.BindIf != "" && local.Is6() && local.IsLinkLocalUnicast() {
		if ifi, err := net.InterfaceByName(c.BindIf); err == nil {
			zone = uint32(ifi.Index)
		}
	}
	if err := unix.Bind(fd, sockaddr(local, c.BindPort, zone)); err != nil {
		return fmt.Errorf("bind %s: %w", netip.AddrPortFrom(local, c.BindPort), err)
	}
	return nil
}

// waitConnected waits (through the poller, under the file's deadline) until the connect in
// progress ends, and returns its outcome. It asks the kernel with connect again: EALREADY
// while the handshake runs, success (0 or EISCONN) once established, the failure otherwise.
// (SO_ERROR alone cannot tell a spurious wakeup from success.)
func waitConnected(f *os.File, sa unix.Sockaddr) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Write(func(fd uintptr) bool {
		switch err := unix.Connect(int(fd), sa); err {
		case nil, unix.EISCONN:
			return true
		case unix.EALREADY, unix.EINPROGRESS, unix.EINTR:
			return false
		default:
			cerr = err
			return true
		}
	})
	if err != nil {
		return err
	}
	return cerr
}

func connectErr(ip netip.Addr, port uint16, err error) error {
	return fmt.Errorf("dial tcp %s: connect: %w", netip.AddrPortFrom(ip, port), err)
}
