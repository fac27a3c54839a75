package check

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// probeSMTP expects a 220 banner, sends HELO, expects 250, and quits; every host block must pass.
func probeSMTP(ctx context.Context, s Spec) (Outcome, error) {
	hosts := []Common{s.Common}
	if s.SMTP != nil && len(s.SMTP.Hosts) > 0 {
		hosts = s.SMTP.Hosts
	}
	helo := ""
	if s.SMTP != nil {
		helo = s.SMTP.HeloName
	}
	if helo == "" {
		helo, _ = os.Hostname()
	}
	for _, h := range hosts {
		if err := smtpHello(ctx, h, helo); err != nil {
			return Outcome{}, fmt.Errorf("smtp %s: %w", target(h), err)
		}
	}
	return Outcome{OK: true}, nil
}

func smtpHello(ctx context.Context, c Common, helo string) error {
	conn, err := dial(ctx, "tcp", c)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := withDeadline(ctx, conn)
	defer stop()
	r := bufio.NewReader(conn)
	if code, err := smtpReply(r); err != nil || code != 220 {
		return fmt.Errorf("banner: code %d: %v", code, err)
	}
	if _, err := conn.Write([]byte("HELO " + helo + "\r\n")); err != nil {
		return fmt.Errorf("helo: %w", err)
	}
	if code, err := smtpReply(r); err != nil || code != 250 {
		return fmt.Errorf("helo: code %d: %v", code, err)
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return nil
}

func smtpReply(r *bufio.Reader) (int, error) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if len(line) < 4 {
			return 0, fmt.Errorf("short reply %q", strings.TrimSpace(line))
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, fmt.Errorf("bad reply %q", strings.TrimSpace(line))
		}
		if line[3] != '-' {
			return code, nil
		}
	}
}
