package check

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/xalived/xalived/pkg/config"
	"github.com/xalived/xalived/pkg/notify"
)

// FromConfig maps the virtual servers of a parsed keepalived.conf onto the scheduler's specs.
// The config package has already applied inheritance (VS → RS → checker) and keepalived's
// defaults to every checker. Checkers this package does not run (BFD_CHECK) are left out and
// named in the returned warnings; anything that cannot run is an error with its file:line.
func FromConfig(cfg *config.Config) ([]VirtualServer, []string, error) {
	var (
		out      []VirtualServer
		warnings []string
	)
	tracks := map[string]*config.TrackFile{}
	for _, tf := range cfg.TrackFiles {
		tracks[tf.Name] = tf
	}
	for _, v := range cfg.VirtualServers {
		vs := VirtualServer{
			Key:         VSKey{Addr: v.Address, Port: v.Port, Protocol: v.Protocol, FWMark: v.Fwmark, Group: v.Group},
			VirtualHost: v.Virtualhost,
			Quorum:      v.Quorum, Hysteresis: v.Hysteresis,
			SMTPAlert: vsSMTPAlert(cfg, v),
		}
		var err error
		if vs.QuorumUp, err = notify.ScriptFromConfig(v.QuorumUp); err != nil {
			return nil, warnings, fmt.Errorf("%s:%d: quorum_up: %w", v.Pos.File, v.Pos.Line, err)
		}
		if vs.QuorumDown, err = notify.ScriptFromConfig(v.QuorumDown); err != nil {
			return nil, warnings, fmt.Errorf("%s:%d: quorum_down: %w", v.Pos.File, v.Pos.Line, err)
		}
		for _, r := range v.RealServers {
			rs := RealServer{Addr: r.Address, Port: r.Port, Weight: r.Weight, SMTPAlert: rsSMTPAlert(cfg, v, r)}
			var err error
			if rs.NotifyUp, err = notify.ScriptFromConfig(r.NotifyUp); err != nil {
				return nil, warnings, fmt.Errorf("%s:%d: notify_up: %w", r.Pos.File, r.Pos.Line, err)
			}
			if rs.NotifyDown, err = notify.ScriptFromConfig(r.NotifyDown); err != nil {
				return nil, warnings, fmt.Errorf("%s:%d: notify_down: %w", r.Pos.File, r.Pos.Line, err)
			}
			for _, c := range r.Checkers {
				if c.Type == config.CheckBFD {
					warnings = append(warnings, fmt.Sprintf("%s:%d: BFD_CHECK is not supported; the real server ignores it", c.Pos.File, c.Pos.Line))
					continue
				}
				sp, err := specFromConfig(cfg, tracks, c)
				if err != nil {
					return nil, warnings, fmt.Errorf("%s:%d: %s: %w", c.Pos.File, c.Pos.Line, c.Type, err)
				}
				if err := sp.Validate(); err != nil {
					return nil, warnings, fmt.Errorf("%s:%d: %w", c.Pos.File, c.Pos.Line, err)
				}
				rs.Checkers = append(rs.Checkers, sp)
			}
			vs.RealServers = append(vs.RealServers, rs)
		}
		out = append(out, vs)
	}
	return out, warnings, nil
}

// vsSMTPAlert follows keepalived.conf(5): the virtual server's smtp_alert, else global
// smtp_alert_checker, else global smtp_alert, else no.
func vsSMTPAlert(cfg *config.Config, v *config.VirtualServer) bool {
	for _, b := range []*bool{v.SMTPAlert, cfg.Global.SMTPAlertChecker, cfg.Global.SMTPAlert} {
		if b != nil {
			return *b
		}
	}
	return false
}

// rsSMTPAlert follows keepalived.conf(5): a real server's smtp_alert, else the virtual
// server's, else global smtp_alert_checker, else global smtp_alert, else yes.
func rsSMTPAlert(cfg *config.Config, v *config.VirtualServer, r *config.RealServer) bool {
	for _, b := range []*bool{r.SMTPAlert, v.SMTPAlert, cfg.Global.SMTPAlertChecker, cfg.Global.SMTPAlert} {
		if b != nil {
			return *b
		}
	}
	return !cfg.Global.NoCheckerEmails
}

func commonFromConfig(c *config.Checker) Common {
	retry := c.Retry
	dbr := c.DelayBeforeRetry.D()
	warm := c.Warmup.D()
	alpha := c.Alpha
	return Common{
		ConnectIP: c.ConnectIP, ConnectPort: c.ConnectPort, BindTo: c.BindTo, BindPort: c.BindPort, BindIf: c.BindIf, FWMark: c.Fwmark,
		ConnectTimeout: c.ConnectTimeout.D(), DelayLoop: c.DelayLoop.D(), DelayBeforeRetry: &dbr, Warmup: &warm,
		Retry: &retry, Alpha: &alpha, LogAllFailures: c.LogAllFailures, Rise: c.Rise,
	}
}

func specFromConfig(cfg *config.Config, tracks map[string]*config.TrackFile, c *config.Checker) (Spec, error) {
	sp := Spec{Kind: Kind(c.Type), Common: commonFromConfig(c)}
	switch sp.Kind {
	case HTTP, SSL:
		if c.HTTP == nil {
			return sp, fmt.Errorf("no url")
		}
		h := &HTTPSpec{Protocol: c.HTTP.Protocol, VirtualHost: c.HTTP.Virtualhost, EnableSNI: c.HTTP.EnableSNI,
			SNIName: c.HTTP.SNIName, TLSCompliant: c.HTTP.TLSCompliant, FastRecovery: c.HTTP.FastRecovery}
		if sp.Kind == SSL && cfg.SSL != nil {
			h.CAFile, h.CertFile, h.KeyFile = cfg.SSL.CA, cfg.SSL.Certificate, cfg.SSL.Key
		}
		for _, u := range c.HTTP.URLs {
			url := URL{Path: u.Path, Digest: strings.ToLower(u.Digest), VirtualHost: u.Virtualhost,
				RegexNoMatch: u.RegexNoMatch, RegexMinOffset: u.RegexMinOffset, RegexMaxOffset: u.RegexMaxOffset}
			for _, r := range u.StatusCodes {
				url.StatusCodes = append(url.StatusCodes, StatusRange{r.Min, r.Max})
			}
			if u.Regex != "" {
				re, err := compileRegex(u.Regex, u.RegexOptions)
				if err != nil {
					return sp, fmt.Errorf("url %s: %w", u.Path, err)
				}
				url.Regex = re
			}
			h.URLs = append(h.URLs, url)
		}
		sp.HTTP = h
	case MISC:
		if c.Misc == nil || c.Misc.Path == nil {
			return sp, fmt.Errorf("no misc_path")
		}
		sp.Misc = &MiscSpec{Path: c.Misc.Path.Cmd, Argv: c.Misc.Path.Args, Timeout: c.Misc.Timeout.D(), Dynamic: c.Misc.Dynamic,
			User: c.Misc.User, Group: c.Misc.Group}
		if sp.Misc.User == "" {
			sp.Misc.User, sp.Misc.Group = c.Misc.Path.User, c.Misc.Path.Group
		}
	case SMTP:
		sp.SMTP = &SMTPSpec{}
		if c.SMTP != nil {
			sp.SMTP.HeloName = c.SMTP.HeloName
			for _, h := range c.SMTP.Hosts {
				hc := commonFromConfig(h)
				if !hc.ConnectIP.IsValid() {
					hc.ConnectIP = c.ConnectIP
				}
				if hc.ConnectPort == 0 {
					hc.ConnectPort = c.ConnectPort
				}
				if hc.ConnectTimeout == 0 {
					hc.ConnectTimeout = c.ConnectTimeout.D()
				}
				sp.SMTP.Hosts = append(sp.SMTP.Hosts, hc)
			}
		}
	case DNS:
		if c.DNS != nil {
			sp.DNS = &DNSSpec{Type: c.DNS.Type, Name: c.DNS.Name}
		}
	case UDP:
		u := &UDPSpec{}
		if c.UDP != nil {
			var err error
			if c.UDP.Payload != "" {
				if u.Payload, _, err = ParseHex(c.UDP.Payload, false); err != nil {
					return sp, fmt.Errorf("payload: %w", err)
				}
			}
			if c.UDP.RequireReply != nil {
				u.RequireReply = true
				if u.ReplyPattern, u.ReplyMask, err = ParseHex(*c.UDP.RequireReply, true); err != nil {
					return sp, fmt.Errorf("require_reply: %w", err)
				}
			}
			u.MinReplyLength, u.MaxReplyLength = c.UDP.MinReplyLength, c.UDP.MaxReplyLength
		}
		sp.UDP = u
	case PING, TCP:
	case FILE:
		if c.File == nil {
			return sp, fmt.Errorf("no track_file")
		}
		tf, ok := tracks[c.File.TrackFile]
		if !ok {
			return sp, fmt.Errorf("track_file %q is not defined", c.File.TrackFile)
		}
		f := &FileSpec{Path: tf.File, Weight: tf.Weight, Reverse: tf.Reverse, Dynamic: c.File.Dynamic}
		if c.File.Weight != nil {
			f.Weight, f.Reverse = *c.File.Weight, c.File.Reverse
		}
		if tf.InitFile {
			v := tf.InitValue
			f.Init = &v
		}
		sp.File = f
		// FILE_CHECK has none of the connection keywords; it is read every delay_loop.
		if sp.DelayLoop == 0 {
			sp.DelayLoop = time.Second
		}
	default:
		return sp, fmt.Errorf("unknown checker")
	}
	return sp, nil
}

// compileRegex compiles a url regex with the PCRE2 options RE2 can express.
func compileRegex(expr string, options []string) (*regexp.Regexp, error) {
	flags := ""
	for _, o := range options {
		switch o {
		case "caseless":
			flags += "i"
		case "multiline":
			flags += "m"
		case "dotall":
			flags += "s"
		case "ungreedy":
			flags += "U"
		case "utf", "ucp", "no_auto_capture", "no_start_optimize", "no_auto_possess", "no_dotstar_anchor":
			// no effect on RE2
		default:
			return nil, fmt.Errorf("regex_options %s is not supported (RE2 syntax)", o)
		}
	}
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("regex %q (RE2 syntax): %w", expr, err)
	}
	return re, nil
}
