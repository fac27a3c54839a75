package check

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// openPing opens an ICMP socket: an unprivileged ping socket (SOCK_DGRAM, allowed by
// net.ipv4.ping_group_range) when possible, a raw socket otherwise (root / CAP_NET_RAW).
// keepalived instead widens ping_group_range; we leave the sysctl alone.
func openPing(c Common) (net.PacketConn, bool, error) {
	family, proto := syscall.AF_INET, syscall.IPPROTO_ICMP
	if c.ConnectIP.Is6() && !c.ConnectIP.Is4In6() {
		family, proto = syscall.AF_INET6, syscall.IPPROTO_ICMPV6
	}
	dgram := true
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, proto)
	if err != nil {
		dgram = false
		if fd, err = syscall.Socket(family, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, proto); err != nil {
			return nil, false, fmt.Errorf("icmp socket: %w", err)
		}
	}
	fail := func(err error) (net.PacketConn, bool, error) {
		_ = syscall.Close(fd)
		return nil, false, err
	}
	if c.BindIf != "" {
		if err := syscall.BindToDevice(fd, c.BindIf); err != nil {
			return fail(fmt.Errorf("bind_if %s: %w", c.BindIf, err))
		}
	}
	if c.FWMark != 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_MARK, int(c.FWMark)); err != nil {
			return fail(fmt.Errorf("fwmark: %w", err))
		}
	}
	if c.BindTo.IsValid() {
		var sa syscall.Sockaddr
		if family == syscall.AF_INET {
			sa = &syscall.SockaddrInet4{Addr: c.BindTo.As4()}
		} else {
			sa = &syscall.SockaddrInet6{Addr: c.BindTo.As16()}
		}
		if err := syscall.Bind(fd, sa); err != nil {
			return fail(fmt.Errorf("bindto %s: %w", c.BindTo, err))
		}
	}
	f := os.NewFile(uintptr(fd), "icmp")
	pc, err := net.FilePacketConn(f)
	_ = f.Close()
	if err != nil {
		return nil, false, fmt.Errorf("icmp socket: %w", err)
	}
	return pc, dgram, nil
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// probePing sends one echo request and waits for the matching echo reply (matched by a random
// payload, since ping sockets rewrite the identifier and raw sockets see every reply).
func probePing(ctx context.Context, s Spec) (Outcome, error) {
	pc, dgram, err := openPing(s.Common)
	if err != nil {
		return Outcome{}, err
	}
	defer pc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = pc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = pc.SetDeadline(aLongTimeAgo) })
	defer stop()

	v6 := s.ConnectIP.Is6() && !s.ConnectIP.Is4In6()
	reqType, replyType := byte(8), byte(0)
	if v6 {
		reqType, replyType = 128, 129
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	msg := make([]byte, 8, 8+len(token))
	msg[0] = reqType
	binary.BigEndian.PutUint16(msg[4:], uint16(os.Getpid()))
	binary.BigEndian.PutUint16(msg[6:], 1)
	msg = append(msg, token...)
	if !v6 {
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg)) // the kernel does it for ICMPv6
	}
	ip := s.ConnectIP.Unmap()
	var dst net.Addr = &net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	if dgram {
		dst = &net.UDPAddr{IP: ip.AsSlice(), Zone: ip.Zone()}
	}
	if _, err := pc.WriteTo(msg, dst); err != nil {
		return Outcome{}, fmt.Errorf("icmp send: %w", err)
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return Outcome{}, fmt.Errorf("no echo reply from %s: %w", ip, err)
			}
			return Outcome{}, fmt.Errorf("icmp receive: %w", err)
		}
		b := buf[:n]
		if len(b) >= 8+len(token) && b[0] == replyType && bytes.Equal(b[8:8+len(token)], token) {
			return Outcome{OK: true}, nil
		}
	}
}
