package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// control applies bind_if (SO_BINDTODEVICE) and fwmark (SO_MARK) to a checker's socket.
func control(c Common) func(network, address string, rc syscall.RawConn) error {
	if c.BindIf == "" && c.FWMark == 0 {
		return nil
	}
	return func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if c.BindIf != "" {
				if serr = syscall.BindToDevice(int(fd), c.BindIf); serr != nil {
					serr = fmt.Errorf("bind_if %s: %w", c.BindIf, serr)
					return
				}
			}
			if c.FWMark != 0 {
				if serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_MARK, int(c.FWMark)); serr != nil {
					serr = fmt.Errorf("fwmark %d: %w", c.FWMark, serr)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}
}

func localAddr(network string, c Common) net.Addr {
	if !c.BindTo.IsValid() && c.BindPort == 0 {
		return nil
	}
	ip := c.BindTo
	ap := netip.AddrPortFrom(ip, c.BindPort)
	switch network {
	case "udp":
		return net.UDPAddrFromAddrPort(ap)
	default:
		return net.TCPAddrFromAddrPort(ap)
	}
}

// target is connect_ip:connect_port of a checker.
func target(c Common) string {
	return net.JoinHostPort(c.ConnectIP.String(), strconv.Itoa(int(c.ConnectPort)))
}

// dial opens a connection with the checker's bind options; ctx bounds it.
func dial(ctx context.Context, network string, c Common) (net.Conn, error) {
	// KeepAlive -1: a probe lives for one exchange; skipping TCP keepalive saves four
	// setsockopt calls per check.
	d := net.Dialer{LocalAddr: localAddr(network, c), Control: control(c), KeepAlive: -1}
	if c.BindIf != "" && c.ConnectIP.Is6() && c.ConnectIP.IsLinkLocalUnicast() {
		ap := netip.AddrPortFrom(c.ConnectIP.WithZone(c.BindIf), c.ConnectPort)
		return d.DialContext(ctx, network, ap.String())
	}
	return d.DialContext(ctx, network, target(c))
}

// withDeadline makes every read and write on conn end at ctx's deadline or cancellation.
func withDeadline(ctx context.Context, conn net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = conn.SetDeadline(aLongTimeAgo) })
}
