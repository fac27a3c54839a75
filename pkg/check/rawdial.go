package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Thousands of TCP_CHECK / HTTP_GET probes a second: net.Dialer costs a resolver pass over the
// literal address, getpeername/getsockname, TCP_NODELAY, a poller registration with its
// deadline timer and a context watcher per connection. dialTCP opens the probe's socket
// directly (socket, the bind options, connect) and asks connect again whether the handshake
// is done; only a socket that has to wait joins the runtime poller (sockConn).

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

// sockConn is a probe's connected, non-blocking socket. Its calls are raw system calls
// (rawsys.go); it joins the runtime poller only when it has to wait (a handshake still running,
// a response not there yet), and only then sets its deadline (a timer) and the cancellation
// hook. A TCP_CHECK whose handshake is done by the time connect returns (a local or fast
// network) costs socket, connect, connect, close and no goroutine switch. It is a net.Conn
// for crypto/tls (which needs waitable() first).
type sockConn struct {
	fd     int
	ctx    context.Context
	f      *os.File // nil until the socket waits
	rc     syscall.RawConn
	stop   func() bool
	remote net.Addr

	// The current Read or Write, for its callback (made once per connection, not per call).
	readFn, writeFn func(fd uintptr) bool
	p               []byte
	n               int
	err             error
}

// waitable hands the socket to the runtime poller, with ctx's deadline and cancellation.
func (c *sockConn) waitable() error {
	if c.f != nil {
		return nil
	}
	f := os.NewFile(uintptr(c.fd), "tcp")
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	c.f, c.rc = f, rc
	if dl, ok := c.ctx.Deadline(); ok {
		if err := f.SetDeadline(dl); err != nil {
			return fmt.Errorf("deadline: %w", err)
		}
	}
	if c.ctx.Done() != nil {
		c.stop = context.AfterFunc(c.ctx, func() { _ = f.SetDeadline(aLongTimeAgo) })
	}
	return nil
}

func (c *sockConn) Read(p []byte) (int, error) {
	var err error
	if c.f == nil {
		c.p, c.n, c.err = p, 0, nil
		if !c.readOnce(uintptr(c.fd)) { // nothing there yet: wait through the poller
			err = c.waitable()
		}
	}
	if c.f != nil && err == nil {
		if c.readFn == nil {
			c.readFn = c.readOnce
		}
		c.p, c.n, c.err = p, 0, nil
		err = c.rc.Read(c.readFn)
	}
	n := c.n
	if err == nil {
		err = c.err
	}
	c.p, c.err = nil, nil
	switch {
	case err != nil:
		return 0, fmt.Errorf("read tcp: %w", err)
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is the RawConn.Read callback: false asks the poller to wait for readability.
func (c *sockConn) readOnce(fd uintptr) bool {
	for {
		c.n, c.err = rawRead(int(fd), c.p)
		if c.err != unix.EINTR {
			return c.err != unix.EAGAIN
		}
	}
}

func (c *sockConn) Write(p []byte) (int, error) {
	c.p, c.n, c.err = p, 0, nil
	var err error
	if c.f == nil && !c.writeSome(uintptr(c.fd)) { // the socket buffer is full: wait
		err = c.waitable()
	}
	if c.f != nil && err == nil {
		if c.writeFn == nil {
			c.writeFn = c.writeSome
		}
		err = c.rc.Write(c.writeFn)
	}
	n := c.n
	if err == nil {
		err = c.err
	}
	c.p, c.err = nil, nil
	if err != nil {
		return n, fmt.Errorf("write tcp: %w", err)
	}
	return n, nil
}

// writeSome is the RawConn.Write callback: it writes what it can of c.p.
func (c *sockConn) writeSome(fd uintptr) bool {
	for c.n < len(c.p) {
		n, e := rawWrite(int(fd), c.p[c.n:])
		switch e {
		case nil:
			c.n += n
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			c.err = e
			return true
		}
	}
	return true
}

// Close releases the socket (and its poller registration and cancellation hook).
func (c *sockConn) Close() error {
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	if c.f != nil {
		return c.f.Close()
	}
	if c.fd < 0 {
		return nil
	}
	err := rawClose(c.fd)
	c.fd = -1
	return err
}

func (c *sockConn) LocalAddr() net.Addr                { return nil }
func (c *sockConn) RemoteAddr() net.Addr               { return c.remote }
func (c *sockConn) SetDeadline(t time.Time) error      { return c.file().SetDeadline(t) }
func (c *sockConn) SetReadDeadline(t time.Time) error  { return c.file().SetReadDeadline(t) }
func (c *sockConn) SetWriteDeadline(t time.Time) error { return c.file().SetWriteDeadline(t) }

func (c *sockConn) file() *os.File {
	_ = c.waitable()
	return c.f
}

// dialTCP connects to connect_ip:connect_port with the checker's bind options (bindto,
// bind_port, bind_if, fwmark) before ctx's deadline, which also bounds every later wait.
func dialTCP(ctx context.Context, c Common) (*sockConn, error) {
	ip := c.ConnectIP.Unmap()
	if !ip.IsValid() {
		return nil, errors.New("connect: no address")
	}
	family := unix.AF_INET6
	if ip.Is4() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := prepareSocket(fd, ip, c); err != nil {
		_ = rawClose(fd)
		return nil, err
	}
	var zone uint32
	if c.BindIf != "" && ip.Is6() && ip.IsLinkLocalUnicast() {
		ifi, err := net.InterfaceByName(c.BindIf)
		if err != nil {
			_ = rawClose(fd)
			return nil, fmt.Errorf("bind_if %s: %w", c.BindIf, err)
		}
		zone = uint32(ifi.Index)
	}
	sa := makeRawSockaddr(ip, c.ConnectPort, zone)
	conn := &sockConn{fd: fd, ctx: ctx}
	cerr := rawConnect(fd, sa)
	if cerr == unix.EINPROGRESS || cerr == unix.EALREADY || cerr == unix.EINTR {
		cerr = rawConnect(fd, sa) // done already? (a local or fast network often is)
	}
	switch cerr {
	case nil, unix.EISCONN:
		return conn, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
	default:
		_ = conn.Close()
		return nil, connectErr(ip, c.ConnectPort, cerr)
	}
	if err := conn.waitable(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if err := waitConnected(conn.rc, sa); err != nil {
		_ = conn.Close()
		return nil, connectErr(ip, c.ConnectPort, err)
	}
	return conn, nil
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
	sa := makeRawSockaddr(local, c.BindPort, zone)
	if _, _, e := unix.RawSyscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa.in6)), sa.len); e != 0 {
		return fmt.Errorf("bind %s: %w", netip.AddrPortFrom(local, c.BindPort), e)
	}
	return nil
}

// waitConnected waits (through the poller, under the file's deadline) until the connect in
// progress ends, and returns its outcome. It asks the kernel with connect again: EALREADY
// while the handshake runs, success (0 or EISCONN) once established, the failure otherwise.
// (SO_ERROR alone cannot tell a spurious wakeup from success.)
func waitConnected(rc syscall.RawConn, sa *rawSockaddr) error {
	var cerr error
	err := rc.Write(func(fd uintptr) bool {
		switch err := rawConnect(int(fd), sa); err {
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
