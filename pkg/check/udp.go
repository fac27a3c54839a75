package check

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// probeUDP sends the payload (random bytes when unset). Without require_reply it succeeds unless
// an ICMP error (port/host/net unreachable) arrives before the deadline; with require_reply a
// reply must arrive, with a length in [min,max] and matching the pattern up to the shorter of
// the two lengths (X nibbles ignored).
func probeUDP(ctx context.Context, s Spec) (Outcome, error) {
	u := s.UDP
	if u == nil {
		u = &UDPSpec{}
	}
	payload := u.Payload
	if len(payload) == 0 {
		payload = make([]byte, 16)
		_, _ = rand.Read(payload)
	}
	conn, err := dial(ctx, "udp", s.Common)
	if err != nil {
		return Outcome{}, err
	}
	defer conn.Close()
	stop := withDeadline(ctx, conn)
	defer stop()
	if _, err := conn.Write(payload); err != nil {
		return Outcome{}, fmt.Errorf("udp send: %w", err)
	}
	buf := make([]byte, 65536)
	n, err := conn.Read(buf)
	if err != nil {
		if !u.RequireReply && errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(ctx.Err(), context.Canceled) {
			return Outcome{OK: true}, nil // silence is success without require_reply
		}
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
			return Outcome{}, fmt.Errorf("udp: icmp error: %w", err)
		}
		return Outcome{}, fmt.Errorf("udp receive: %w", err)
	}
	if !u.RequireReply {
		return Outcome{OK: true}, nil
	}
	maxLen := u.MaxReplyLength
	if maxLen == 0 {
		maxLen = DefaultMaxReplyLength
	}
	if n < u.MinReplyLength || n > maxLen {
		return Outcome{}, fmt.Errorf("udp reply length %d outside [%d,%d]", n, u.MinReplyLength, maxLen)
	}
	for i := 0; i < min(n, len(u.ReplyPattern)); i++ {
		if (buf[i]^u.ReplyPattern[i])&u.ReplyMask[i] != 0 {
			return Outcome{}, fmt.Errorf("udp reply byte %d is %#02x, want %#02x mask %#02x", i, buf[i], u.ReplyPattern[i], u.ReplyMask[i])
		}
	}
	return Outcome{OK: true}, nil
}
