package config

import (
	"strconv"
	"strings"
)

// commonChecker adds the keywords every connecting checker accepts.
func (p *parser) commonChecker(tb table, cs *checkerState) {
	c := cs.c
	dur := func(dst **Duration, lo, hi float64) handler {
		return handler{fn: func(p *parser, s stmt) {
			if d, ok := p.secArg(s, lo, hi); ok {
				*dst = &d
			}
		}}
	}
	tb["connect_ip"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			c.ConnectIP, _ = p.addr(s.pos, w)
		}
	}}
	tb["connect_port"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			if v, ok := p.port(s.pos, w); ok {
				c.ConnectPort = v
				cs.connectPortSet = true
			}
		}
	}}
	tb["bindto"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			c.BindTo, _ = p.addr(s.pos, w)
		}
	}}
	tb["bind_port"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			c.BindPort, _ = p.port(s.pos, w)
		}
	}}
	tb["bind_if"] = handler{fn: func(p *parser, s stmt) { c.BindIf, _ = p.str(s) }}
	tb["fwmark"] = handler{fn: func(p *parser, s stmt) {
		if n, ok := p.intArg(s, 0, 1<<32-1); ok {
			c.Fwmark = uint32(n)
		}
	}}
	tb["connect_timeout"] = dur(&cs.connectTimeout, 0.000001, 1<<31)
	tb["retry"] = handler{fn: func(p *parser, s stmt) {
		if n, ok := p.intArg(s, 0, 1<<31-1); ok {
			cs.retry = &n
		}
	}}
	tb["delay_before_retry"] = dur(&cs.delayBeforeRetry, 0, 1<<31)
	tb["warmup"] = dur(&cs.warmup, 0, 1<<31)
	tb["delay_loop"] = dur(&cs.delayLoop, 0.000001, 1<<31)
	tb["alpha"] = handler{fn: func(p *parser, s stmt) { c.Alpha = p.boolArg(s) }}
	tb["log_all_failures"] = handler{fn: func(p *parser, s stmt) { c.LogAllFailures = p.boolArg(s) }}
}

func (p *parser) checker(s stmt, typ string) *checkerState {
	if !p.enter(s) {
		return nil
	}
	c := &Checker{Pos: s.pos, Type: typ}
	cs := &checkerState{c: c}
	tb := table{}
	switch typ {
	case CheckMisc, CheckFile, CheckBFD:
		// MISC_CHECK has only the timing keywords; FILE/BFD have none.
		if typ == CheckMisc {
			p.commonChecker(tb, cs)
			for _, k := range []string{"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout"} {
				delete(tb, k)
			}
		}
	default:
		p.commonChecker(tb, cs)
	}
	switch typ {
	case CheckHTTP, CheckSSL:
		h := &HTTPCheck{}
		c.HTTP = h
		tb["nb_get_retry"] = handler{fn: func(p *parser, s stmt) {
			p.errorf(s.pos, "nb_get_retry is deprecated - please use 'retry'")
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				cs.retry = &n
			}
		}}
		tb["http_protocol"] = handler{fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch w {
			case "1.0", "1.0C", "1.0c", "1.1":
				h.Protocol = strings.ToUpper(w)
			default:
				p.errorf(s.pos, "unknown http_protocol %s", w)
			}
		}}
		tb["fast_recovery"] = handler{fn: func(p *parser, s stmt) { h.FastRecovery = p.boolArg(s) }}
		tb["virtualhost"] = handler{fn: func(p *parser, s stmt) { h.Virtualhost, _ = p.str(s) }}
		tb["url"] = handler{block: true, fn: func(p *parser, s stmt) {
			if u := p.url(s); u != nil {
				h.URLs = append(h.URLs, u)
			}
		}}
		if typ == CheckSSL {
			tb["enable_sni"] = handler{fn: func(p *parser, s stmt) { h.EnableSNI = p.boolArg(s) }}
			tb["sni_name"] = handler{fn: func(p *parser, s stmt) {
				p.newer(s, "2.3.0")
				h.SNIName, _ = p.str(s)
				h.EnableSNI = true
			}}
			tb["tls_compliant"] = handler{fn: func(p *parser, s stmt) { h.TLSCompliant = p.boolArg(s) }}
		}
	case CheckMisc:
		m := &MiscCheck{}
		c.Misc = m
		tb["misc_path"] = handler{fn: func(p *parser, s stmt) { m.Path = p.scriptLine(s) }}
		tb["misc_timeout"] = handler{fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 1<<31/1000000); ok {
				m.Timeout = Seconds(float64(n))
			}
		}}
		tb["misc_dynamic"] = handler{fn: func(p *parser, s stmt) { m.Dynamic = true }}
		tb["user"] = handler{fn: func(p *parser, s stmt) {
			if u, ok := p.str(s); ok {
				m.User = u
				if len(s.words) > 2 {
					m.Group = s.words[2]
				}
			}
		}}
	case CheckSMTP:
		sm := &SMTPCheck{}
		c.SMTP = sm
		tb["helo_name"] = handler{fn: func(p *parser, s stmt) { sm.HeloName, _ = p.str(s) }}
		tb["host"] = handler{block: true, fn: func(p *parser, s stmt) {
			if !p.enter(s) {
				return
			}
			hc := &Checker{Pos: s.pos, Type: "host"}
			hs := &checkerState{c: hc}
			ht := table{}
			p.commonChecker(ht, hs)
			p.body(ht, false)
			sm.Hosts = append(sm.Hosts, hc)
		}}
	case CheckDNS:
		d := &DNSCheck{Type: "SOA", Name: "."}
		c.DNS = d
		tb["type"] = handler{fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch strings.ToUpper(w) {
			case "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA":
				d.Type = strings.ToUpper(w)
			default:
				p.errorf(s.pos, "DNS_CHECK: unknown type '%s'", w)
			}
		}}
		tb["name"] = handler{fn: func(p *parser, s stmt) { d.Name, _ = p.str(s) }}
	case CheckUDP:
		u := &UDPCheck{MaxReplyLength: 255}
		c.UDP = u
		tb["payload"] = handler{fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			if !isHexString(w, false) {
				p.errorf(s.pos, "UDP_CHECK payload '%s' is not hex", w)
				return
			}
			u.Payload = w
		}}
		tb["require_reply"] = handler{fn: func(p *parser, s stmt) {
			w := ""
			if len(s.words) > 1 {
				w = s.words[1]
				if !isHexString(w, true) {
					p.errorf(s.pos, "UDP_CHECK require_reply '%s' is not hex", w)
					return
				}
			}
			u.RequireReply = &w
		}}
		tb["min_reply_length"] = handler{fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 65515); ok {
				u.MinReplyLength = n
			}
		}}
		tb["max_reply_length"] = handler{fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 65515); ok {
				u.MaxReplyLength = n
			}
		}}
	case CheckFile:
		f := &FileCheck{}
		c.File = f
		tb["track_file"] = handler{fn: func(p *parser, s stmt) { f.TrackFile, _ = p.str(s) }}
		tb["file"] = tb["track_file"]
		tb["dynamic"] = handler{fn: func(p *parser, s stmt) { f.Dynamic = true; p.newer(s, "2.3.0") }}
		tb["weight"] = handler{fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, -254, 254); ok {
				f.Weight = &n
			}
			if len(s.words) > 2 && s.words[2] == "reverse" {
				f.Reverse = true
			}
		}}
	case CheckBFD:
		b := &BFDCheck{}
		c.BFD = b
		tb["name"] = handler{fn: func(p *parser, s stmt) { b.Name, _ = p.str(s) }}
		tb["alpha"] = handler{fn: func(p *parser, s stmt) { c.Alpha = p.boolArg(s) }}
	}
	p.body(tb, false)
	closePos := p.lastClose
	switch typ {
	case CheckMisc:
		if c.Misc.Path == nil {
			p.errorf(closePos, "no script path has been specified for MISC_CHECKER - skipping")
			return nil
		}
	case CheckFile:
		if c.File.TrackFile == "" {
			p.errorf(s.pos, "FILE_CHECK has no track_file specified - skipping")
			return nil
		}
	case CheckBFD:
		if c.BFD.Name == "" {
			p.errorf(s.pos, "BFD_CHECK has no name specified - skipping")
			return nil
		}
	case CheckHTTP, CheckSSL:
		if len(c.HTTP.URLs) == 0 {
			p.errorf(closePos, "HTTP/SSL_GET checker has no urls specified - ignoring")
			return nil
		}
	}
	return cs
}

func isHexString(s string, wild bool) bool {
	if len(s)%2 != 0 || s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) && !(wild && (s[i] == 'X' || s[i] == 'x')) {
			return false
		}
	}
	return true
}

func (p *parser) url(s stmt) *URL {
	if !p.enter(s) {
		return nil
	}
	u := &URL{Pos: s.pos}
	p.body(table{
		"path": {fn: func(p *parser, s stmt) { u.Path, _ = p.str(s) }},
		"digest": {fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			if len(w) != 32 || !isHexString(w, false) {
				p.errorf(s.pos, "digest '%s' is not a valid MD5 hex string", w)
				return
			}
			u.Digest = strings.ToLower(w)
		}},
		"status_code": {fn: func(p *parser, s stmt) {
			if !p.need(s, 1) {
				return
			}
			for _, a := range s.args() {
				for _, part := range strings.Split(a, ",") {
					if part == "" {
						continue
					}
					lo, hi := part, part
					if i := strings.IndexByte(part, '-'); i > 0 {
						lo, hi = part[:i], part[i+1:]
					}
					l, err1 := strconv.Atoi(lo)
					h, err2 := strconv.Atoi(hi)
					if err1 != nil || err2 != nil || l < 100 || h > 599 || l > h {
						p.errorf(s.pos, "invalid HTTP_GET status_code '%s'", part)
						continue
					}
					u.StatusCodes = append(u.StatusCodes, StatusRange{Min: l, Max: h})
				}
			}
		}},
		"virtualhost":    {fn: func(p *parser, s stmt) { u.Virtualhost, _ = p.str(s) }},
		"regex":          {fn: func(p *parser, s stmt) { u.Regex, _ = p.str(s) }},
		"regex_no_match": {fn: func(p *parser, s stmt) { u.RegexNoMatch = true }},
		"regex_options":  {fn: func(p *parser, s stmt) { u.RegexOptions = append(u.RegexOptions, s.args()...) }},
		"regex_min_offset": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				u.RegexMinOffset = n
			}
		}},
		"regex_max_offset": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				u.RegexMaxOffset = n
			}
		}},
		"regex_stack": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				u.RegexStack = n
			}
		}},
	}, false)
	if len(u.StatusCodes) == 0 && u.Digest == "" {
		u.StatusCodes = []StatusRange{{Min: 200, Max: 299}}
	}
	return u
}
