package config

import (
	"strconv"
	"strings"
)

// rsCtx is what a real_server block builds.
type rsCtx struct {
	rs *RealServer
	st *rsState
}

// rsState records what a real server set explicitly.
type rsState struct {
	delayLoop *Duration
	checkers  []*checkerState
}

type checkerState struct {
	c                *Checker
	connectTimeout   *Duration
	retry            *int
	delayBeforeRetry *Duration
	warmup           *Duration
	delayLoop        *Duration
	connectPortSet   bool
}

var (
	rsTable       tableT[*rsCtx]
	checkerTables map[string]tableT[*checkerState]
	smtpHostTable tableT[*checkerState]
	urlTable      tableT[*URL]
)

func init() {
	rsTable = tableT[*rsCtx]{
		"weight": {fn: func(p *parser, s stmt, x *rsCtx) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				x.rs.Weight = n
			}
		}},
		"lvs_method": {fn: func(p *parser, s stmt, x *rsCtx) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch strings.ToUpper(w) {
			case "NAT", "DR", "TUN":
				x.rs.LVSMethod = strings.ToUpper(w)
			default:
				p.errorf(s.pos, "PARSER : unknown [%s] routing method for real server.", w)
			}
		}},
		"uthreshold": {fn: func(p *parser, s stmt, x *rsCtx) {
			if n, ok := p.intArg(s, 0, 1<<32-1); ok {
				x.rs.UThreshold = n
			}
		}},
		"lthreshold": {fn: func(p *parser, s stmt, x *rsCtx) {
			if n, ok := p.intArg(s, 0, 1<<32-1); ok {
				x.rs.LThreshold = n
			}
		}},
		"notify_up":          {fn: func(p *parser, s stmt, x *rsCtx) { x.rs.NotifyUp = p.script(s) }},
		"notify_down":        {fn: func(p *parser, s stmt, x *rsCtx) { x.rs.NotifyDown = p.script(s) }},
		"inhibit_on_failure": {fn: func(p *parser, s stmt, x *rsCtx) { x.rs.InhibitOnFailure = true }},
		"alpha":              {fn: func(p *parser, s stmt, x *rsCtx) { x.rs.Alpha = true }},
		"delay_loop":         durField(func(x *rsCtx) **Duration { return &x.st.delayLoop }, 0.000001, 1<<31),
		"connect_timeout":    durField(func(x *rsCtx) **Duration { return &x.rs.ConnectTimeout }, 0.000001, 1<<31),
		"delay_before_retry": durField(func(x *rsCtx) **Duration { return &x.rs.DelayBeforeRetry }, 0, 1<<31),
		"warmup":             durField(func(x *rsCtx) **Duration { return &x.rs.Warmup }, 0, 1<<31),
		"retry": {fn: func(p *parser, s stmt, x *rsCtx) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				x.rs.Retry = &n
			}
		}},
		"virtualhost": strField(func(x *rsCtx) *string { return &x.rs.Virtualhost }),
		"smtp_alert":  {fn: func(p *parser, s stmt, x *rsCtx) { v := p.boolArg(s); x.rs.SMTPAlert = &v }},
		"snmp_name":   strField(func(x *rsCtx) *string { return &x.rs.SNMPName }),
	}
	for _, ct := range []string{CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckSMTP, CheckDNS, CheckUDP, CheckPing, CheckFile, CheckBFD} {
		ct := ct
		rsTable[ct] = entry[*rsCtx]{block: true, fn: func(p *parser, s stmt, x *rsCtx) {
			if cs := p.checker(s, ct); cs != nil {
				x.rs.Checkers = append(x.rs.Checkers, cs.c)
				x.st.checkers = append(x.st.checkers, cs)
			}
		}}
	}

	common := commonCheckerTable()
	checkerTables = map[string]tableT[*checkerState]{}
	for _, ct := range []string{CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckSMTP, CheckDNS, CheckUDP, CheckPing, CheckFile, CheckBFD} {
		t := tableT[*checkerState]{}
		switch ct {
		case CheckFile, CheckBFD:
		case CheckMisc:
			// MISC_CHECK has the timing keywords only.
			for k, v := range common {
				switch k {
				case "connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "fwmark", "connect_timeout":
				default:
					t[k] = v
				}
			}
		default:
			for k, v := range common {
				t[k] = v
			}
		}
		for k, v := range specificChecker(ct) {
			t[k] = v
		}
		checkerTables[ct] = t
	}
	// An SMTP_CHECK host block takes the connection keywords, not the up/down ones of ours.
	smtpHostTable = tableT[*checkerState]{}
	for k, v := range common {
		if k != "rise" {
			smtpHostTable[k] = v
		}
	}
	urlTable = newURLTable()
}

// rsAlloc holds what reading one real_server allocates, in one allocation.
type rsAlloc struct {
	rs  RealServer
	st  rsState
	ctx rsCtx
}

func (p *parser) realServer(s stmt) (*RealServer, *rsState) {
	a := &rsAlloc{rs: RealServer{Pos: s.pos, Weight: 1}}
	rs := &a.rs
	ok := true
	if len(s.words) < 2 {
		p.errorf(s.pos, "real_server: missing address")
		ok = false
	} else if ad, good := p.addr(s.pos, s.words[1]); good {
		rs.Address = ad
		if len(s.words) > 2 {
			if v, good := p.port(s.pos, s.words[2]); good {
				rs.Port = v
			}
		}
	} else {
		ok = false
	}
	if !p.enter(s) {
		return nil, nil
	}
	st := &a.st
	a.ctx = rsCtx{rs: rs, st: st}
	bodyT(p, rsTable, &a.ctx)
	if !ok {
		return nil, nil
	}
	return rs, st
}

// commonCheckerTable has the keywords every connecting checker accepts.
func commonCheckerTable() tableT[*checkerState] {
	return tableT[*checkerState]{
		"connect_ip": {fn: func(p *parser, s stmt, cs *checkerState) {
			if w, ok := p.str(s); ok {
				cs.c.ConnectIP, _ = p.addr(s.pos, w)
			}
		}},
		"connect_port": {fn: func(p *parser, s stmt, cs *checkerState) {
			if w, ok := p.str(s); ok {
				if v, ok := p.intIn(s.pos, w, 1, 65535); ok {
					cs.c.ConnectPort = uint16(v)
					cs.connectPortSet = true
				} else {
					p.errorf(s.pos, "invalid checker connect_port '%s'", w)
				}
			}
		}},
		"bindto": {fn: func(p *parser, s stmt, cs *checkerState) {
			if w, ok := p.str(s); ok {
				cs.c.BindTo, _ = p.addr(s.pos, w)
			}
		}},
		"bind_port": {fn: func(p *parser, s stmt, cs *checkerState) {
			if w, ok := p.str(s); ok {
				cs.c.BindPort, _ = p.port(s.pos, w)
			}
		}},
		"bind_if": strField(func(cs *checkerState) *string { return &cs.c.BindIf }),
		"fwmark": {fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 0, 1<<32-1); ok {
				cs.c.Fwmark = uint32(n)
			}
		}},
		"connect_timeout": durField(func(cs *checkerState) **Duration { return &cs.connectTimeout }, 0.000001, 1<<31),
		"retry": {fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				cs.retry = &n
			}
		}},
		"delay_before_retry": durField(func(cs *checkerState) **Duration { return &cs.delayBeforeRetry }, 0, 1<<31),
		"warmup":             durField(func(cs *checkerState) **Duration { return &cs.warmup }, 0, 1<<31),
		"delay_loop":         durField(func(cs *checkerState) **Duration { return &cs.delayLoop }, 0.000001, 1<<31),
		"alpha":              boolField(func(cs *checkerState) *bool { return &cs.c.Alpha }),
		"log_all_failures":   boolField(func(cs *checkerState) *bool { return &cs.c.LogAllFailures }),
		// ours (see OwnKeywords)
		"rise": {fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 1, 1<<31-1); ok {
				cs.c.Rise = n
			}
		}},
	}
}

// OwnKeywords are the keywords xalived accepts and keepalived does not know, by block: keepalived
// reports each as an unknown keyword and ignores it. A configuration without them means what it
// means to keepalived. pkg/check/KEYWORDS.md documents them.
var OwnKeywords = map[string][]string{
	"rise": {CheckTCP, CheckHTTP, CheckSSL, CheckMisc, CheckSMTP, CheckDNS, CheckUDP, CheckPing},
}

// specificChecker has the keywords of one checker type.
func specificChecker(typ string) tableT[*checkerState] {
	t := tableT[*checkerState]{}
	switch typ {
	case CheckHTTP, CheckSSL:
		t["nb_get_retry"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			p.errorf(s.pos, "nb_get_retry is deprecated - please use 'retry'")
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				cs.retry = &n
			}
		}}
		t["http_protocol"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch w {
			case "1.0", "1.0C", "1.0c", "1.1":
				cs.c.HTTP.Protocol = strings.ToUpper(w)
			default:
				p.errorf(s.pos, "unknown http_protocol %s", w)
			}
		}}
		t["fast_recovery"] = boolField(func(cs *checkerState) *bool { return &cs.c.HTTP.FastRecovery })
		t["virtualhost"] = strField(func(cs *checkerState) *string { return &cs.c.HTTP.Virtualhost })
		t["enable_sni"] = boolField(func(cs *checkerState) *bool { return &cs.c.HTTP.EnableSNI })
		t["url"] = entry[*checkerState]{block: true, fn: func(p *parser, s stmt, cs *checkerState) {
			if u := p.url(s); u != nil {
				cs.c.HTTP.URLs = append(cs.c.HTTP.URLs, u)
			}
		}}
		if typ == CheckSSL {
			t["sni_name"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
				p.newer(s, "2.3.0")
				cs.c.HTTP.SNIName, _ = p.str(s)
				cs.c.HTTP.EnableSNI = true
			}}
			t["tls_compliant"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
				p.newer(s, "2.3.0")
				cs.c.HTTP.TLSCompliant = p.boolArg(s)
			}}
		}
	case CheckMisc:
		t["misc_path"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) { cs.c.Misc.Path = p.scriptLine(s) }}
		t["misc_timeout"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 0, 1<<31/1000000); ok {
				cs.c.Misc.Timeout = Seconds(float64(n))
			}
		}}
		t["misc_dynamic"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) { cs.c.Misc.Dynamic = true }}
		t["user"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if u, ok := p.str(s); ok {
				cs.c.Misc.User = u
				if len(s.words) > 2 {
					cs.c.Misc.Group = s.words[2]
				}
			}
		}}
	case CheckSMTP:
		t["helo_name"] = strField(func(cs *checkerState) *string { return &cs.c.SMTP.HeloName })
		t["host"] = entry[*checkerState]{block: true, fn: func(p *parser, s stmt, cs *checkerState) {
			if !p.enter(s) {
				return
			}
			hs := &checkerState{c: &Checker{Pos: s.pos, Type: "host"}}
			bodyT(p, smtpHostTable, hs)
			cs.c.SMTP.Hosts = append(cs.c.SMTP.Hosts, hs.c)
		}}
	case CheckDNS:
		t["type"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			switch strings.ToUpper(w) {
			case "A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA":
				cs.c.DNS.Type = strings.ToUpper(w)
			default:
				p.errorf(s.pos, "DNS_CHECK: unknown type '%s'", w)
			}
		}}
		t["name"] = strField(func(cs *checkerState) *string { return &cs.c.DNS.Name })
	case CheckUDP:
		t["payload"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if !p.need(s, 1) {
				return
			}
			if w, ok := hexGroups(p, s, "payload", false); ok {
				cs.c.UDP.Payload = w
			}
		}}
		t["require_reply"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			w := ""
			if len(s.words) > 1 {
				var ok bool
				if w, ok = hexGroups(p, s, "require_reply", true); !ok {
					return
				}
			}
			cs.c.UDP.RequireReply = &w
		}}
		t["min_reply_length"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 0, 65515); ok {
				cs.c.UDP.MinReplyLength = n
			}
		}}
		t["max_reply_length"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, 0, 65515); ok {
				cs.c.UDP.MaxReplyLength = n
			}
		}}
	case CheckFile:
		tf := entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) { cs.c.File.TrackFile, _ = p.str(s) }}
		t["track_file"] = tf
		t["dynamic"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) { cs.c.File.Dynamic = true; p.newer(s, "2.3.0") }}
		t["weight"] = entry[*checkerState]{fn: func(p *parser, s stmt, cs *checkerState) {
			if n, ok := p.intArg(s, -254, 254); ok {
				cs.c.File.Weight = &n
			}
			if len(s.words) > 2 && s.words[2] == "reverse" {
				cs.c.File.Reverse = true
			}
		}}
	case CheckBFD:
		t["name"] = strField(func(cs *checkerState) *string { return &cs.c.BFD.Name })
		t["alpha"] = boolField(func(cs *checkerState) *bool { return &cs.c.Alpha })
	}
	return t
}

func (p *parser) checker(s stmt, typ string) *checkerState {
	if !p.enter(s) {
		return nil
	}
	c := &Checker{Pos: s.pos, Type: typ}
	switch typ {
	case CheckHTTP, CheckSSL:
		c.HTTP = &HTTPCheck{}
	case CheckMisc:
		c.Misc = &MiscCheck{}
	case CheckSMTP:
		c.SMTP = &SMTPCheck{}
	case CheckDNS:
		c.DNS = &DNSCheck{Type: "SOA", Name: "."}
	case CheckUDP:
		c.UDP = &UDPCheck{MaxReplyLength: 255}
	case CheckFile:
		c.File = &FileCheck{}
	case CheckBFD:
		c.BFD = &BFDCheck{}
	}
	cs := &checkerState{c: c}
	bodyT(p, checkerTables[typ], cs)
	closePos := p.lastClose
	switch typ {
	case CheckMisc:
		if c.Misc.Path == nil {
			p.errorf(closePos, "no script path has been specified for MISC_CHECKER - skipping")
			return nil
		}
	case CheckFile:
		if c.File.TrackFile == "" {
			p.errorf(closePos, "FILE_CHECK has no track_file specified - skipping")
			return nil
		}
	case CheckBFD:
		if c.BFD.Name == "" {
			p.errorf(closePos, "BFD_CHECK has no name specified - skipping")
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

func newURLTable() tableT[*URL] {
	intF := func(get func(*URL) *int) entry[*URL] {
		return entry[*URL]{fn: func(p *parser, s stmt, u *URL) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				*get(u) = n
			}
		}}
	}
	return tableT[*URL]{
		"path": strField(func(u *URL) *string { return &u.Path }),
		"digest": {fn: func(p *parser, s stmt, u *URL) {
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
		"status_code": {fn: func(p *parser, s stmt, u *URL) {
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
		"virtualhost":      strField(func(u *URL) *string { return &u.Virtualhost }),
		"regex":            strField(func(u *URL) *string { return &u.Regex }),
		"regex_no_match":   {fn: func(p *parser, s stmt, u *URL) { u.RegexNoMatch = true }},
		"regex_options":    {fn: func(p *parser, s stmt, u *URL) { u.RegexOptions = append(u.RegexOptions, s.args()...) }},
		"regex_min_offset": intF(func(u *URL) *int { return &u.RegexMinOffset }),
		"regex_max_offset": intF(func(u *URL) *int { return &u.RegexMaxOffset }),
		"regex_stack":      intF(func(u *URL) *int { return &u.RegexStack }),
	}
}

func (p *parser) url(s stmt) *URL {
	if !p.enter(s) {
		return nil
	}
	u := &URL{Pos: s.pos}
	bodyT(p, urlTable, u)
	if len(u.StatusCodes) == 0 && u.Digest == "" {
		u.StatusCodes = []StatusRange{{Min: 200, Max: 299}}
	}
	return u
}
