package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// stmt is one keyword statement: the words of a line up to a brace. Open
// is set when the statement ended with "{"; Close statements are a lone
// "}"; BareOpen is a "{" with no words before it (a brace on its own line).
type stmt struct {
	pos      Pos
	words    []string
	open     bool
	close    bool
	bareOpen bool
}

func (s stmt) kw() string { return s.words[0] }

// args returns the words after the keyword.
func (s stmt) args() []string { return s.words[1:] }

// parser walks the statements. Handlers are looked up by keyword in
// per-block tables.
type parser struct {
	st    []stmt
	i     int
	diags Diagnostics
	cfg   *Config
	opts  Options
	depth int
	// scriptUserSet/Bad: global script_user given / not resolvable.
	scriptUserSet, scriptUserBad bool
	// defaultUserWarned: "unable to set default user" was reported.
	defaultUserWarned bool
	// lastClose is the position of the "}" that ended the last block.
	lastClose Pos
	// unbalanced counts blocks left open at the end of the input.
	unbalanced int
	// stopped is set when a fatal error ended reading.
	stopped bool
	// instStates parallels cfg.Instances.
	instStates []*instanceState
	// track, when set, records what Incremental needs to re-parse one block later.
	track *parseTrack
}

// handler handles one keyword statement. block says the keyword takes a
// { } block (the handler then reads it with p.enter / p.body / p.list).
type handler struct {
	fn    func(p *parser, s stmt)
	block bool
}

type table map[string]handler

func (p *parser) errorf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: Warning, Message: fmt.Sprintf(format, args...)})
}

// lateErrorf reports a validation error found after parsing (see Diagnostic.Late).
func (p *parser) lateErrorf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: Error, Message: fmt.Sprintf(format, args...), Late: true})
}

// lateWarnf reports a validation warning found after parsing.
func (p *parser) lateWarnf(pos Pos, format string, args ...any) {
	p.diags = append(p.diags, Diagnostic{Pos: pos, Severity: Warning, Message: fmt.Sprintf(format, args...), Late: true})
}

func (p *parser) next() (stmt, bool) {
	if p.i >= len(p.st) {
		return stmt{}, false
	}
	s := p.st[p.i]
	p.i++
	return s, true
}

// enter checks that a block follows the statement s (a "{" at its end or
// on the next line). Without one it reports "missing '{'" and returns false.
func (p *parser) enter(s stmt) bool {
	if s.open {
		return true
	}
	if p.i < len(p.st) && p.st[p.i].bareOpen {
		p.i++
		return true
	}
	at := s.pos
	if p.i < len(p.st) {
		at = p.st[p.i].pos
	}
	p.errorf(at, "missing '{' at beginning of configuration block '%s'", s.kw())
	return false
}

const maxNesting = 64

// body reads statements until the closing "}" (or the end of the input
// at top level), dispatching them through t.
func (p *parser) body(t table, top bool) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxNesting {
		p.errorf(p.posNow(), "blocks nested deeper than %d levels", maxNesting)
		p.skipBlock()
		return
	}
	for {
		s, ok := p.next()
		if !ok {
			if !top && !p.stopped {
				p.unbalanced++
			}
			return
		}
		if s.close {
			if top {
				p.errorf(s.pos, "unknown keyword '}'")
				continue
			}
			p.lastClose = s.pos
			return
		}
		if s.bareOpen {
			p.errorf(s.pos, "unexpected '{' - ignoring")
			continue
		}
		h, ok := t[s.kw()]
		if !ok {
			p.errorf(s.pos, "unknown keyword '%s'", s.kw())
			if s.open {
				p.errorf(s.pos, "unexpected '{' - ignoring")
			}
			continue
		}
		if !h.block && s.open {
			h.fn(p, s)
			p.errorf(s.pos, "unexpected '{' - ignoring")
			continue
		}
		if top && p.track != nil && s.kw() == "virtual_server" {
			p.track.block(p, s, h.fn)
			continue
		}
		h.fn(p, s)
	}
}

// skipBlock discards statements up to the matching "}".
func (p *parser) skipBlock() {
	lvl := 1
	for {
		s, ok := p.next()
		if !ok {
			return
		}
		if s.open || s.bareOpen {
			lvl++
		}
		if s.close {
			lvl--
			if lvl == 0 {
				return
			}
		}
	}
}

// enterList is enter for blocks of values (addresses, names...): keepalived
// does not check the brace there and takes the line after the keyword as
// the block's opening line whatever it holds.
func (p *parser) enterList(s stmt) bool {
	if s.open {
		return true
	}
	if p.i < len(p.st) {
		p.i++
		return true
	}
	return false
}

// list reads a block whose lines are entries rather than keywords.
func (p *parser) list(fn func(s stmt)) {
	for {
		s, ok := p.next()
		if !ok {
			if !p.stopped {
				p.unbalanced++
			}
			return
		}
		if s.close {
			p.lastClose = s.pos
			return
		}
		if s.bareOpen {
			p.errorf(s.pos, "unexpected '{' - ignoring")
			continue
		}
		fn(s)
		if s.open {
			p.errorf(s.pos, "unexpected '{' - ignoring")
		}
	}
}

func (p *parser) posNow() Pos {
	if p.i > 0 && p.i <= len(p.st) {
		return p.st[p.i-1].pos
	}
	return p.lastPos()
}

func (p *parser) lastPos() Pos {
	if len(p.st) == 0 {
		return Pos{}
	}
	return p.st[len(p.st)-1].pos
}

// --- argument helpers ---

// need checks that s has at least n arguments.
func (p *parser) need(s stmt, n int) bool {
	if len(s.words)-1 < n {
		// keepalived stops reading the configuration here.
		p.errorf(s.pos, "configuration line starting '%s' is missing a parameter after keyword '%s' at word position %d; configuration reading stopped", s.kw(), s.words[len(s.words)-1], len(s.words)+1)
		p.i = len(p.st)
		p.stopped = true
		return false
	}
	return true
}

func (p *parser) str(s stmt) (string, bool) {
	if !p.need(s, 1) {
		return "", false
	}
	return s.words[1], true
}

// intIn parses word as an integer in [lo, hi].
func (p *parser) intIn(pos Pos, w string, lo, hi int64) (int64, bool) {
	v, err := strconv.ParseInt(w, 10, 64)
	if err != nil {
		p.errorf(pos, "invalid number '%s'", w)
		return 0, false
	}
	if v < lo || v > hi {
		p.errorf(pos, "number '%s' outside range [%d, %d]", w, lo, hi)
		return 0, false
	}
	return v, true
}

// intArg parses the first argument of s as an integer in [lo, hi].
func (p *parser) intArg(s stmt, lo, hi int64) (int, bool) {
	if !p.need(s, 1) {
		return 0, false
	}
	v, ok := p.intIn(s.pos, s.words[1], lo, hi)
	return int(v), ok
}

// secArg parses a <TIMER> argument in [lo, hi] seconds.
func (p *parser) secArg(s stmt, lo, hi float64) (Duration, bool) {
	if !p.need(s, 1) {
		return 0, false
	}
	return p.secIn(s.pos, s.words[1], lo, hi)
}

func (p *parser) secIn(pos Pos, w string, lo, hi float64) (Duration, bool) {
	d, err := parseSeconds(w)
	if err != nil {
		p.errorf(pos, "invalid number '%s'", w)
		return 0, false
	}
	f := float64(d) / 1e9
	if f < lo || f > hi {
		p.errorf(pos, "number '%s' outside range [%s, %s]", w, fmtNum(lo), fmtNum(hi))
		return 0, false
	}
	return d, true
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// boolArg reads an optional <BOOL>; a keyword alone means true.
func (p *parser) boolArg(s stmt) bool {
	if len(s.words) < 2 {
		return true
	}
	switch strings.ToLower(s.words[1]) {
	case "on", "true", "yes":
		return true
	case "off", "false", "no":
		return false
	}
	p.errorf(s.pos, "invalid boolean '%s' for %s", s.words[1], s.kw())
	return true
}

func (p *parser) addr(pos Pos, w string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(w)
	if err != nil {
		p.errorf(pos, "invalid address '%s'", w)
		return netip.Addr{}, false
	}
	return a.WithZone(""), true
}

func (p *parser) port(pos Pos, w string) (uint16, bool) {
	v, ok := p.intIn(pos, w, 0, 65535)
	return uint16(v), ok
}

// script builds a Script from the arguments of s: the command (one word,
// split further on unquoted spaces) and optional user [group].
func (p *parser) script(s stmt) *Script {
	if !p.need(s, 1) {
		return nil
	}
	sc := &Script{Pos: s.pos, Cmd: s.words[1], Args: splitCommand(s.words[1])}
	if len(s.words) > 2 {
		sc.User = s.words[2]
		if i := strings.IndexByte(sc.User, ':'); i >= 0 {
			sc.User, sc.Group = sc.User[:i], sc.User[i+1:]
		}
	}
	if len(s.words) > 3 {
		sc.Group = s.words[3]
	}
	if len(sc.Args) == 0 {
		p.errorf(s.pos, "empty script for %s", s.kw())
		return nil
	}
	return sc
}

// scriptLine builds a Script from every argument of s joined: for keywords
// (script, misc_path) where the whole rest of the line is the command.
func (p *parser) scriptLine(s stmt) *Script {
	if !p.need(s, 1) {
		return nil
	}
	cmd := s.words[1]
	args := splitCommand(cmd)
	if len(s.words) > 2 {
		cmd = strings.Join(s.words[1:], " ")
		args = nil
		for _, w := range s.words[1:] {
			args = append(args, splitCommand(w)...)
		}
	}
	if len(args) == 0 {
		p.errorf(s.pos, "empty script for %s", s.kw())
		return nil
	}
	return &Script{Pos: s.pos, Cmd: cmd, Args: args}
}

// splitCommand splits a script string on unquoted whitespace; single
// quotes group (keepalived's convention for parameters with spaces).
func splitCommand(s string) []string {
	var out []string
	var cur strings.Builder
	in, q := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			q, in = c, true
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(s[i+1])
			i++
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

// --- top level ---

// Options tune Parse.
type Options struct {
	// ConfigID selects @ID lines; empty means the short hostname.
	ConfigID string
	// FS reads the files; nil means the real filesystem.
	FS FS
	// HostChecks enables checks against the running host that keepalived
	// makes in -t mode: interfaces exist, scripts are executable.
	HostChecks bool
	// InterfaceExists overrides the interface lookup used by HostChecks.
	InterfaceExists func(name string) bool
	// MaxLines bounds the logical lines the preprocessor may produce
	// (include, $VAR and ~SEQ expansion); 0 means 2,000,000.
	MaxLines int
}

// DefaultConfigID returns keepalived's default config-id: the host name up
// to the first dot.
func DefaultConfigID() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// ParseFile reads the configuration at path (following includes) and
// returns the model and every diagnostic. The returned error is non-nil
// (matching ErrInvalid) when there is at least one Error diagnostic, or
// when the file cannot be read; the model is returned even then, holding
// what keepalived would run with.
func ParseFile(path string, opts Options) (*Config, Diagnostics, error) {
	if opts.FS == nil {
		opts.FS = osFS{}
	}
	abs := path
	if !filepath.IsAbs(abs) {
		if a, err := filepath.Abs(path); err == nil {
			abs = a
		}
	}
	data, err := opts.FS.ReadFile(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	return parse(path, abs, data, true, opts)
}

// Parse parses configuration text as if read from a file named name
// (relative includes resolve from name's directory).
func Parse(name string, data []byte, opts Options) (*Config, Diagnostics, error) {
	if opts.FS == nil {
		opts.FS = osFS{}
	}
	abs := name
	if !filepath.IsAbs(abs) {
		if a, err := filepath.Abs(name); err == nil {
			abs = a
		}
	}
	return parse(name, abs, data, false, opts)
}

// parse parses data, read from name (abs); owned says data was read by ParseFile, not handed
// in by a caller who may reuse the buffer.
func parse(name, abs string, data []byte, owned bool, opts Options) (*Config, Diagnostics, error) {
	p := parseTracked(name, abs, data, owned, opts, nil)
	return p.cfg, p.diags, p.diags.Err()
}

// parseTracked is parse; with tr set it also records in tr what Incremental needs.
// The parser returned holds the model (cfg) and the sorted diagnostics.
func parseTracked(name, abs string, data []byte, owned bool, opts Options, tr *parseTrack) *parser {
	if opts.ConfigID == "" {
		opts.ConfigID = DefaultConfigID()
	}
	var diags Diagnostics
	pp := &preprocessor{fs: opts.FS, configID: opts.ConfigID, diags: &diags, vars: map[string]string{}, seen: map[string]int{}, maxLines: opts.MaxLines}
	if tr != nil {
		pp.track = &tr.lines
	}
	if pp.maxLines <= 0 {
		pp.maxLines = maxLines
	}
	pp.seen[abs] = 1
	pp.files = append(pp.files, name)
	pp.owned = owned
	pp.readData(name, data, 0)
	// Included files are reported with the path as matched; the main file
	// keeps the name it was given.
	p := &parser{st: pp.st, opts: opts, track: tr}
	p.diags = diags
	cfg := newConfig(opts.ConfigID)
	cfg.Files = pp.files
	p.cfg = cfg
	p.body(topTable(), true)
	if p.unbalanced > 0 {
		p.lateErrorf(p.lastPos(), "there are %d missing '}'s or extra '{'s", p.unbalanced)
	}
	if tr != nil {
		tr.pp = pp
		tr.parseDiags = len(p.diags)
	}
	p.finish()
	if tr != nil {
		tr.unsorted = slices.Clone(p.diags)
	}
	sortDiags(p.diags)
	return p
}

// sortDiags keeps diagnostics stable: by file order of appearance is
// already the natural order; validation ones are appended, so sort by
// file then line while keeping the relative order of equal positions.
func sortDiags(ds Diagnostics) {
	order := map[string]int{}
	for _, d := range ds {
		if _, ok := order[d.Pos.File]; !ok {
			order[d.Pos.File] = len(order)
		}
	}
	// insertion sort is fine for the sizes involved, but use a stable sort
	stableSort(ds, func(a, b Diagnostic) bool {
		if a.Pos.File != b.Pos.File {
			return order[a.Pos.File] < order[b.Pos.File]
		}
		return a.Pos.Line < b.Pos.Line
	})
}

func newConfig(id string) *Config {
	c := &Config{ConfigID: id}
	g := &c.Global
	g.RouterID = ""
	g.SMTPConnectTimeout = Seconds(30)
	g.VRRPVersion = 2
	g.VRRPMcastGroup4 = netip.MustParseAddr("224.0.0.18")
	g.VRRPMcastGroup6 = netip.MustParseAddr("ff02::12")
	g.VRRPGarpMasterDelay = Seconds(5)
	g.VRRPGarpMasterRepeat = 5
	g.VRRPGarpRefreshRepeat = 1
	g.VRRPDownTimerAdverts = 3
	return c
}

func topTable() table {
	return table{
		"global_defs":              {fn: (*parser).globalDefs, block: true},
		"net_namespace":            {fn: func(p *parser, s stmt) { p.cfg.Global.NetNamespace, _ = p.str(s) }},
		"net_namespace_ipvs":       {fn: func(p *parser, s stmt) { p.keepGlobal(s) }},
		"instance":                 {fn: func(p *parser, s stmt) { p.cfg.Global.Instance, _ = p.str(s) }},
		"use_pid_dir":              {fn: func(p *parser, s stmt) { p.keepGlobal(s) }},
		"linkbeat_use_polling":     {fn: func(p *parser, s stmt) { p.cfg.Global.LinkbeatUsePolling = true }},
		"child_wait_time":          {fn: func(p *parser, s stmt) { p.keepGlobal(s) }},
		"linkbeat_interfaces":      {fn: (*parser).linkbeatInterfaces, block: true},
		"interface_up_down_delays": {fn: (*parser).interfaceDelays, block: true},
		"track_group":              {fn: (*parser).trackGroup, block: true},
		"static_ipaddress":         {fn: func(p *parser, s stmt) { p.cfg.StaticAddresses = append(p.cfg.StaticAddresses, p.addressBlock(s)...) }, block: true},
		"static_routes":            {fn: func(p *parser, s stmt) { p.cfg.StaticRoutes = append(p.cfg.StaticRoutes, p.routeBlock(s, false)...) }, block: true},
		"static_rules":             {fn: func(p *parser, s stmt) { p.cfg.StaticRules = append(p.cfg.StaticRules, p.ruleBlock(s)...) }, block: true},
		"vrrp_script":              {fn: (*parser).vrrpScript, block: true},
		"track_file":               {fn: (*parser).trackFile, block: true},
		"vrrp_track_file":          {fn: (*parser).trackFile, block: true},
		"vrrp_track_process":       {fn: (*parser).trackProcess, block: true},
		"bfd_instance":             {fn: (*parser).bfdInstance, block: true},
		"vrrp_sync_group":          {fn: (*parser).syncGroup, block: true},
		"garp_group":               {fn: (*parser).garpGroup, block: true},
		"vrrp_instance":            {fn: (*parser).vrrpInstance, block: true},
		"SSL":                      {fn: (*parser).sslBlock, block: true},
		"virtual_server_group":     {fn: (*parser).vsGroup, block: true},
		"virtual_server":           {fn: (*parser).virtualServer, block: true},
		"include_check":            {fn: func(p *parser, s stmt) {}},
		"namespace_with_ipsets":    {fn: func(p *parser, s stmt) { p.keepGlobal(s) }},
	}
}

func (p *parser) keepGlobal(s stmt) {
	p.cfg.Global.Other = append(p.cfg.Global.Other, Setting{Pos: s.pos, Keyword: s.kw(), Args: append([]string(nil), s.args()...)})
}

// name returns the block name (second word) of s, reporting its absence.
func (p *parser) name(s stmt) (string, bool) {
	if len(s.words) < 2 {
		p.errorf(s.pos, "%s: missing name", s.kw())
		return "", false
	}
	return s.words[1], true
}

func (p *parser) linkbeatInterfaces(s stmt) {
	if !p.enterList(s) {
		return
	}
	p.list(func(e stmt) {
		li := LinkbeatInterface{Pos: e.pos, Name: e.kw()}
		if len(e.words) > 1 {
			li.Method = strings.ToUpper(e.words[1])
			switch li.Method {
			case "MII", "ETHTOOL", "IOCTL":
			default:
				p.errorf(e.pos, "unknown linkbeat method '%s'", e.words[1])
			}
		}
		p.cfg.LinkbeatInterfaces = append(p.cfg.LinkbeatInterfaces, li)
	})
}

func (p *parser) interfaceDelays(s stmt) {
	if !p.enterList(s) {
		return
	}
	p.list(func(e stmt) {
		d := InterfaceDelay{Pos: e.pos, Interface: e.kw()}
		if len(e.words) < 2 {
			p.errorf(e.pos, "interface_up_down_delays: missing delay for %s", e.kw())
			return
		}
		v, ok := p.secIn(e.pos, e.words[1], 0, 255)
		if !ok {
			return
		}
		d.Down, d.Up = v, v
		if len(e.words) > 2 {
			if u, ok := p.secIn(e.pos, e.words[2], 0, 255); ok {
				d.Up = u
			}
		}
		p.cfg.InterfaceDelays = append(p.cfg.InterfaceDelays, d)
	})
}

func (p *parser) trackGroup(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	tg := &TrackGroup{Pos: s.pos, Name: nm}
	p.body(table{
		"group": {fn: func(p *parser, g stmt) {
			if !p.enterList(g) {
				return
			}
			p.list(func(e stmt) { tg.Instances = append(tg.Instances, e.words...) })
		}, block: true},
	}, false)
	if nm != "" {
		p.cfg.TrackGroups = append(p.cfg.TrackGroups, tg)
	}
}

func (p *parser) sslBlock(s stmt) {
	if !p.enter(s) {
		return
	}
	if p.cfg.SSL == nil {
		p.cfg.SSL = &SSLConfig{Pos: s.pos}
	}
	c := p.cfg.SSL
	strSet := func(dst *string) handler {
		return handler{fn: func(p *parser, s stmt) {
			if v, ok := p.str(s); ok {
				*dst = v
			}
		}}
	}
	p.body(table{
		"password":    strSet(&c.Password),
		"ca":          strSet(&c.CA),
		"certificate": strSet(&c.Certificate),
		"key":         strSet(&c.Key),
	}, false)
}

func (p *parser) garpGroup(s stmt) {
	if !p.enter(s) {
		return
	}
	g := &GarpGroup{Pos: s.pos}
	p.body(table{
		"garp_interval": {fn: func(p *parser, s stmt) { g.Interval, _ = p.secArg(s, 0, 1) }},
		"gna_interval":  {fn: func(p *parser, s stmt) { g.GnaInterval, _ = p.secArg(s, 0, 1) }},
		"interface": {fn: func(p *parser, s stmt) {
			g.Interface, _ = p.str(s)
			if g.Interface != "" && p.hostIfChecks() && !p.interfaceExists(g.Interface) {
				p.errorf(s.pos, "interface %s specified for garp_group doesn't exist", g.Interface)
			}
		}},
		"interfaces": {fn: func(p *parser, s stmt) {
			if !p.enterList(s) {
				return
			}
			p.list(func(e stmt) { g.Interfaces = append(g.Interfaces, e.words...) })
			// keepalived checks the names when the list closes.
			for _, n := range g.Interfaces {
				if p.hostIfChecks() && !p.interfaceExists(n) {
					p.errorf(p.lastClose, "interface %s specified for garp_group doesn't exist", n)
				}
			}
		}, block: true},
	}, false)
	p.cfg.GarpGroups = append(p.cfg.GarpGroups, g)
}
