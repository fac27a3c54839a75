package notify

import (
	"fmt"
	"time"

	"github.com/xalived/xalived/pkg/config"
)

// ScriptFromConfig turns a configured command into a Script (nil for nil), resolving its
// optional user and group.
func ScriptFromConfig(s *config.Script) (*Script, error) {
	if s == nil {
		return nil, nil
	}
	argv := s.Args
	if len(argv) == 0 {
		var err error
		if argv, err = SplitCommand(s.Cmd); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.Pos.File, s.Pos.Line, err)
		}
	}
	out := &Script{Argv: append([]string(nil), argv...)}
	if s.User != "" {
		cred, err := RunAs(s.User, s.Group)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", s.Pos.File, s.Pos.Line, err)
		}
		out.Cred = cred
	}
	return out, nil
}

// ConfigFromGlobal maps global_defs onto a Dispatcher configuration: script_user (else
// keepalived_script when it exists), enable_script_security, the notify FIFOs (notify_fifo
// serves both vrrp and lvs lines unless vrrp_notify_fifo / lvs_notify_fifo are set) and the
// SMTP settings.
func ConfigFromGlobal(g config.GlobalDefs) (Config, error) {
	c := Config{ScriptSecurity: g.EnableScriptSecurity}
	if g.ScriptUser != "" {
		cred, err := RunAs(g.ScriptUser, g.ScriptGroup)
		if err != nil {
			return c, fmt.Errorf("script_user: %w", err)
		}
		c.ScriptUser = cred
	} else {
		c.ScriptUser = DefaultScriptUser()
	}
	var err error
	if g.NotifyFifo != nil {
		c.VRRPFIFO, c.LVSFIFO = g.NotifyFifo.Path, g.NotifyFifo.Path
		if c.VRRPFIFOScript, err = ScriptFromConfig(g.NotifyFifo.Script); err != nil {
			return c, fmt.Errorf("notify_fifo_script: %w", err)
		}
	}
	if g.VRRPNotifyFifo != nil {
		c.VRRPFIFO = g.VRRPNotifyFifo.Path
		if c.VRRPFIFOScript, err = ScriptFromConfig(g.VRRPNotifyFifo.Script); err != nil {
			return c, fmt.Errorf("vrrp_notify_fifo_script: %w", err)
		}
	}
	if g.LVSNotifyFifo != nil {
		c.LVSFIFO = g.LVSNotifyFifo.Path
		if c.LVSFIFOScript, err = ScriptFromConfig(g.LVSNotifyFifo.Script); err != nil {
			return c, fmt.Errorf("lvs_notify_fifo_script: %w", err)
		}
	}
	c.SMTP = SMTPConfig{
		HeloName: g.SMTPHeloName, From: g.NotificationEmailFrom, To: append([]string(nil), g.NotificationEmail...),
		ConnectTimeout: time.Duration(g.SMTPConnectTimeout), RouterID: g.RouterID,
	}
	if g.SMTPServer != "" {
		c.SMTP.Server = SMTPServer(g.SMTPServer, g.SMTPServerPort)
	}
	return c, nil
}
