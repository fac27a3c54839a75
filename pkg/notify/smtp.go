package notify

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// SMTPConfig is the global_defs mail setup.
type SMTPConfig struct {
	// Server is "host" or "host:port" (smtp_server IP [PORT]); the default port is 25.
	Server string
	// HeloName defaults to the local host name (smtp_helo_name).
	HeloName string
	// From defaults to keepalived@<host name> (notification_email_from).
	From string
	// To lists the recipients (notification_email).
	To []string
	// ConnectTimeout bounds each step of the exchange (smtp_connect_timeout, default 30 s).
	ConnectTimeout time.Duration
	// RouterID prefixes subjects (router_id, default the host name).
	RouterID string
}

// SMTPServer joins smtp_server's address and optional port into host:port.
func SMTPServer(host string, port uint16) string {
	if port == 0 {
		port = 25
	}
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

func (c SMTPConfig) withDefaults() SMTPConfig {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if c.HeloName == "" {
		c.HeloName = host
	}
	if c.From == "" {
		c.From = "keepalived@" + host
	}
	if c.RouterID == "" {
		c.RouterID = host
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.Server != "" {
		if _, _, err := net.SplitHostPort(c.Server); err != nil {
			c.Server = SMTPServer(c.Server, 25)
		}
	}
	return c
}

// Mail is one alert.
type Mail struct {
	Subject string
	Body    string
}

// VRRPMail is the alert for an instance changing state, as keepalived words it.
func VRRPMail(routerID, instance, state string) Mail {
	body := "=> VRRP Instance is nolonger owning VRRP VIPs <="
	switch state {
	case StateMaster:
		body = "=> VRRP Instance is now owning VRRP VIPs <="
	case StateFault:
		body = "=> VRRP Instance is in FAULT state <="
	}
	return Mail{Subject: fmt.Sprintf("[%s] VRRP Instance %s - Entering %s state", routerID, instance, state), Body: body}
}

// GroupMail is the alert for a sync group changing state.
func GroupMail(routerID, group, state string) Mail {
	return Mail{
		Subject: fmt.Sprintf("[%s] VRRP Group %s - Entering %s state", routerID, group, state),
		Body:    fmt.Sprintf("=> All VRRP group instances are now in %s state <=", state),
	}
}

// RealServerMail is the alert for a real server going up or down; checker names the checker
// type that decided ("TCP", "HTTP", "MISC", ...), reason is an optional failure detail.
func RealServerMail(routerID, rs, vs string, up bool, checker, reason string) Mail {
	prefix := "CHECK"
	if checker != "" {
		prefix = checker + " CHECK"
	}
	body := "=> " + prefix + " succeed on service <="
	if !up {
		body = "=> " + prefix + " failed on service <="
		if reason != "" {
			body = "=> " + prefix + " failed on service : " + reason + " <="
		}
	}
	return Mail{Subject: fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", routerID, rs, vs, upDown(up)), Body: body}
}

// VirtualServerMail is the quorum alert of a virtual server.
func VirtualServerMail(routerID, vs string, up bool, detail string) Mail {
	return Mail{Subject: fmt.Sprintf("[%s] Virtualserver %s - %s", routerID, vs, upDown(up)), Body: detail}
}

// SendMail delivers one mail: HELO, MAIL FROM, one RCPT TO per recipient, DATA with keepalived's
// headers, QUIT. Each step (connect, every reply) must finish within cfg.ConnectTimeout.
func SendMail(ctx context.Context, cfg SMTPConfig, m Mail, now time.Time) error {
	cfg = cfg.withDefaults()
	if cfg.Server == "" || len(cfg.To) == 0 {
		return fmt.Errorf("smtp: no server or no recipient configured")
	}
	d := net.Dialer{Timeout: cfg.ConnectTimeout}
	conn, err := d.DialContext(ctx, "tcp", cfg.Server)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", cfg.Server, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReader(conn)
	step := func(cmd string, want int) error {
		_ = conn.SetDeadline(time.Now().Add(cfg.ConnectTimeout))
		if cmd != "" {
			if _, err := conn.Write([]byte(cmd)); err != nil {
				return fmt.Errorf("smtp %s: send %q: %w", cfg.Server, firstLine(cmd), err)
			}
		}
		code, err := readReply(r)
		if err != nil {
			return fmt.Errorf("smtp %s: after %q: %w", cfg.Server, firstLine(cmd), err)
		}
		if code != want {
			return fmt.Errorf("smtp %s: after %q: reply %d, want %d", cfg.Server, firstLine(cmd), code, want)
		}
		return nil
	}
	if err := step("", 220); err != nil {
		return err
	}
	if err := step("HELO "+cfg.HeloName+"\r\n", 250); err != nil {
		return err
	}
	if err := step("MAIL FROM:<"+cfg.From+">\r\n", 250); err != nil {
		return err
	}
	for _, to := range cfg.To {
		if err := step("RCPT TO:<"+to+">\r\n", 250); err != nil {
			return err
		}
	}
	if err := step("DATA\r\n", 354); err != nil {
		return err
	}
	if err := step(formatMessage(cfg, m, now), 250); err != nil {
		return err
	}
	_ = step("QUIT\r\n", 221)
	return nil
}

func formatMessage(cfg SMTPConfig, m Mail, now time.Time) string {
	var b strings.Builder
	b.WriteString("Date: " + now.Format("Mon, 02 Jan 2006 15:04:05 -0700") + "\r\n")
	b.WriteString("From: " + cfg.From + "\r\n")
	b.WriteString("Subject: " + oneLine(m.Subject) + "\r\n")
	b.WriteString("X-Mailer: Keepalived\r\n")
	b.WriteString("To: " + strings.Join(cfg.To, ", ") + "\r\n\r\n")
	for _, l := range strings.Split(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n") {
		if strings.HasPrefix(l, ".") {
			l = "." + l // dot-stuffing
		}
		b.WriteString(l + "\r\n")
	}
	b.WriteString("\r\n.\r\n")
	return b.String()
}

func oneLine(s string) string { return strings.NewReplacer("\r", " ", "\n", " ").Replace(s) }

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// readReply reads one (possibly multi-line) SMTP reply and returns its code.
func readReply(r *bufio.Reader) (int, error) {
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
		if line[3] == '-' {
			continue
		}
		return code, nil
	}
}
