package config

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Incremental parses a configuration file again and again (a daemon's reloads) at a cost
// proportional to what changed: it keeps the previous parse, and when the new text differs from
// it only inside one top-level virtual_server block, in lines that need no preprocessing, it
// parses that block alone and splices the result into a copy of the previous model, sharing every
// other block. Anything else is parsed in full. The result is always exactly what ParseFile
// returns for the same text (tests compare both); LastPath says which way a parse went.
//
// A block is re-parsed alone when:
//   - the configuration is one file (no include, even one that matched nothing), read without
//     Options.HostChecks, whose previous parse had no unbalanced braces, no stopped reading and
//     no preprocessor overflow;
//   - the changed bytes span whole lines, as many in the new text as in the old, that are inside
//     one virtual_server block (not its first line, not its closing brace) and are plain both
//     before and after: no $parameter, @conditional, ~SEQ/~LST, include, quote, escape,
//     comment, carriage return or non-ASCII byte, and not part of a multi-line definition;
//   - the block, parsed again, ends at the same closing brace.
//
// An Incremental is not safe for concurrent use. The models it returns share blocks with each
// other, so they must be treated as read-only (as every consumer of Config does).
type Incremental struct {
	opts Options
	last *snapshot
	// spare is a buffer ParseFile reads into (the text of the parse before last, when nothing
	// refers to it), so that a reload does not allocate the file's size again.
	spare []byte
	// LastPath says how the last parse went: "full" (with the reason the previous one could not
	// be reused), "unchanged" (byte-identical text), or "block" (one block re-parsed).
	LastPath string
	// Base is, after an "unchanged" or "block" parse, the model the result was made from (the
	// one returned before): they differ in virtual_server blocks only, and share everything else.
	// Nil after a full parse.
	Base *Config
}

// NewIncremental returns an Incremental that parses with opts.
func NewIncremental(opts Options) *Incremental {
	if opts.FS == nil {
		opts.FS = osFS{}
	}
	return &Incremental{opts: opts}
}

// ParseFile is ParseFile(path, opts), reusing the previous parse where it can.
func (in *Incremental) ParseFile(path string) (*Config, Diagnostics, error) {
	abs := path
	if !filepath.IsAbs(abs) {
		if a, err := filepath.Abs(path); err == nil {
			abs = a
		}
	}
	var data []byte
	var err error
	spare := false
	if _, real := in.opts.FS.(osFS); real {
		data, err = readInto(in.spare[:0], abs)
		spare = err == nil
	} else {
		data, err = in.opts.FS.ReadFile(abs)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", path, err)
	}
	return in.load(path, abs, data, true, spare)
}

// readInto reads the file name into buf (grown as needed).
func readInto(buf []byte, name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && int64(cap(buf)) < st.Size()+512 {
		buf = make([]byte, 0, st.Size()+st.Size()/8+512)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Parse is Parse(name, data, opts), reusing the previous parse where it can. data is not
// retained.
func (in *Incremental) Parse(name string, data []byte) (*Config, Diagnostics, error) {
	abs := name
	if !filepath.IsAbs(abs) {
		if a, err := filepath.Abs(name); err == nil {
			abs = a
		}
	}
	return in.load(name, abs, data, false, false)
}

// snapshot is what a parse leaves for the next one.
type snapshot struct {
	name, abs, configID string
	data                []byte // the text (never written)
	dataPrivate         bool   // nothing else refers to data: it may be reused once replaced
	st                  []stmt // the preprocessor's statements
	lines               lineTrack
	blocks              []blockTrack
	nlines, work        int         // the preprocessor's counters
	maxLines            int         // and their limit
	parseDiags          Diagnostics // unsorted, in the order the parser reported them
	finPre              Diagnostics // finish's, before the virtual servers' references
	finVS               [][]Diagnostic
	routerIDDefault     bool
	cfg                 *Config
	diags               Diagnostics // sorted, as returned
}

// lineTrack records the main file's lines as the preprocessor read them (index = line - 1).
type lineTrack struct {
	off    []int  // byte offset where the line starts
	st     []int  // index of the line's first statement
	direct []bool // plain line: its statements are its words, and it changed no preprocessor state
}

func (t *lineTrack) add(off, st int) {
	t.off = append(t.off, off)
	t.st = append(t.st, st)
	t.direct = append(t.direct, false)
}

// blockTrack is one top-level virtual_server block.
type blockTrack struct {
	st0, st1  int // its statements [st0, st1)
	d0, d1    int // its diagnostics in the parse phase's list
	vs, nvs   int // index of its virtual server in cfg.VirtualServers, and 0 or 1
	groups    int // virtual_server_groups defined before it
	lastClose Pos // the parser's lastClose when it began
}

// parseTrack is what a tracked parse records (see parseTracked).
type parseTrack struct {
	lines           lineTrack
	blocks          []blockTrack
	pp              *preprocessor
	parseDiags      int // diagnostics before finish
	finPre          int // diagnostics before finish checks the virtual servers
	finVS           [][]Diagnostic
	routerIDDefault bool
	unsorted        Diagnostics
}

// block parses a top-level virtual_server block with fn, recording where it lies.
func (t *parseTrack) block(p *parser, s stmt, fn func(*parser, stmt)) {
	b := blockTrack{st0: p.i - 1, d0: len(p.diags), vs: len(p.cfg.VirtualServers),
		groups: len(p.cfg.VirtualServerGroups), lastClose: p.lastClose}
	fn(p, s)
	b.st1, b.d1, b.nvs = p.i, len(p.diags), len(p.cfg.VirtualServers)-b.vs
	t.blocks = append(t.blocks, b)
}

// spare says data was read into in.spare.
func (in *Incremental) load(name, abs string, data []byte, owned, spare bool) (*Config, Diagnostics, error) {
	if spare {
		in.spare = nil // data is it: taken, unless given back below
	}
	id := in.opts.ConfigID
	if id == "" {
		id = DefaultConfigID()
	}
	why := "first parse"
	in.Base = nil
	if s := in.last; s != nil {
		base := s.cfg
		switch {
		case s.name != name || s.abs != abs:
			why = "another file"
		case s.configID != id:
			why = "config id changed"
		case s.routerIDDefault && hostname() != s.cfg.Global.RouterID:
			why = "host name changed"
		default:
			pre := commonPrefix(s.data, data)
			if len(s.data) == len(data) && pre == len(data) {
				if spare {
					in.spare = data
				}
				in.LastPath, in.Base = "unchanged", base
				return s.cfg, slices.Clone(s.diags), s.diags.Err()
			}
			var ok bool
			if ok, why = in.block(s, data, pre, owned, spare); ok {
				in.LastPath, in.Base = "block", base
				return s.cfg, slices.Clone(s.diags), s.diags.Err()
			}
		}
	}
	in.LastPath = "full: " + why
	in.last = nil
	tr := &parseTrack{}
	opts := in.opts
	opts.ConfigID = id
	p := parseTracked(name, abs, data, owned, opts, tr)
	pp := tr.pp
	if !opts.HostChecks && pp != nil && !pp.sawInclude && len(pp.files) == 1 && !pp.overflow && p.unbalanced == 0 && !p.stopped {
		if !owned {
			data = bytes.Clone(data)
		}
		if _, real := in.opts.FS.(osFS); real && owned {
			// The next read's buffer, faulted in now rather than during a reload.
			in.spare = make([]byte, len(data)+len(data)/8+512)[:0]
			clear(in.spare[:cap(in.spare)])
		}
		in.last = &snapshot{name: name, abs: abs, configID: id, data: data, dataPrivate: !owned, st: pp.st, lines: tr.lines,
			blocks: tr.blocks, nlines: pp.nlines, work: pp.work, maxLines: pp.maxLines,
			parseDiags: tr.unsorted[:tr.parseDiags:tr.parseDiags], finPre: tr.unsorted[tr.parseDiags:tr.finPre:tr.finPre],
			finVS: tr.finVS, routerIDDefault: tr.routerIDDefault, cfg: p.cfg, diags: p.diags}
	}
	return p.cfg, slices.Clone(p.diags), p.diags.Err()
}

// block tries to re-parse the one block data changed; on success it updates s to data's parse.
// Otherwise it says why not, and s is unchanged.
// pre is the length of their common prefix.
func (in *Incremental) block(s *snapshot, data []byte, pre int, owned, spare bool) (bool, string) {
	old := s.data
	suf := commonSuffix(old[pre:], data[pre:])
	if suf == 0 {
		return false, "the last line changed"
	}
	oe, ne := len(old)-suf, len(data)-suf
	if bytes.Count(old[pre:oe], []byte{'\n'}) != bytes.Count(data[pre:ne], []byte{'\n'}) {
		return false, "lines added or removed"
	}
	nl := len(s.lines.off)
	lineOf := func(off int) int { return sort.SearchInts(s.lines.off, off+1) - 1 }
	l0, l1 := lineOf(pre), lineOf(max(oe-1, pre))
	if l0 < 0 || l1 >= nl {
		return false, "change outside the tracked lines"
	}
	for l := l0; l <= l1; l++ {
		if !s.lines.direct[l] {
			return false, fmt.Sprintf("line %d needs the preprocessor", l+1)
		}
	}
	start, endOld := s.lines.off[l0], len(old)
	a, b := s.lines.st[l0], len(s.st)
	if l1+1 < nl {
		endOld, b = s.lines.off[l1+1], s.lines.st[l1+1]
	}
	delta := len(data) - len(old)
	if s.nlines+(l1-l0+1) > s.maxLines || s.work+(l1-l0+1) > 4*s.maxLines {
		return false, "near the preprocessor's limits"
	}
	// The block holding the changed statements, strictly inside it.
	bi := sort.Search(len(s.blocks), func(i int) bool { return s.blocks[i].st0 >= a }) - 1
	if bi < 0 {
		return false, "change outside a virtual_server block"
	}
	bt := s.blocks[bi]
	if !(bt.st0 < a && b < bt.st1) {
		return false, "change outside a virtual_server block"
	}
	// The new lines' statements.
	text := string(data[start : endOld+delta])
	if endOld < len(old) && !strings.HasSuffix(text, "\n") {
		return false, "line structure changed"
	}
	pp := &preprocessor{}
	var words []word
	lineSt := make([]int, 0, l1-l0+1)
	oldNonblank, newNonblank := 0, 0
	for l := l0; l <= l1; l++ {
		if text == "" {
			return false, "line structure changed"
		}
		raw := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			raw, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if len(raw) > maxLineBytes {
			return false, fmt.Sprintf("line %d is too long", l+1)
		}
		var ok bool
		if words, ok = appendPlainLine(words[:0], raw); !ok {
			return false, fmt.Sprintf("line %d needs the preprocessor", l+1)
		}
		lineSt = append(lineSt, a+len(pp.st))
		if len(words) > 0 {
			newNonblank++
			pp.emit(Pos{File: s.name, Line: l + 1}, words)
		}
		next := len(s.st)
		if l+1 < nl {
			next = s.lines.st[l+1]
		}
		if next > s.lines.st[l] {
			oldNonblank++
		}
	}
	if text != "" {
		return false, "line structure changed"
	}
	// Parse the block again, from the statements as a full parse would see them.
	blk := make([]stmt, 0, a-bt.st0+len(pp.st)+bt.st1-b)
	blk = append(append(append(blk, s.st[bt.st0:a]...), pp.st...), s.st[b:bt.st1]...)
	opts := in.opts
	opts.ConfigID = s.configID
	p := &parser{st: blk, opts: opts, depth: 1, lastClose: bt.lastClose,
		cfg: &Config{VirtualServerGroups: s.cfg.VirtualServerGroups[:bt.groups:bt.groups]}}
	hdr, _ := p.next()
	p.virtualServer(hdr)
	if p.i != len(blk) || p.unbalanced != 0 || p.stopped || len(p.cfg.VirtualServers) > 1 {
		return false, "the block's braces changed"
	}

	// The new model: a copy of the old one with this block's virtual server replaced.
	nvs := len(p.cfg.VirtualServers)
	cfg := *s.cfg
	cfg.VirtualServers = slices.Concat(s.cfg.VirtualServers[:bt.vs], p.cfg.VirtualServers, s.cfg.VirtualServers[bt.vs+bt.nvs:])
	// Its diagnostics: the block's own, and finish's check of its references.
	parseDiags := slices.Concat(s.parseDiags[:bt.d0], p.diags, s.parseDiags[bt.d1:])
	finVS := s.finVS
	if nvs > 0 || bt.nvs > 0 {
		var mine [][]Diagnostic
		if nvs > 0 {
			fp := &parser{cfg: &cfg}
			fp.vsRefs(p.cfg.VirtualServers[0], refNames(cfg.VirtualServerGroups, func(g *VirtualServerGroup) string { return g.Name }),
				refNames(cfg.TrackFiles, func(f *TrackFile) string { return f.Name }),
				refNames(cfg.BFDInstances, func(b *BFDInstance) string { return b.Name }))
			mine = [][]Diagnostic{fp.diags}
		}
		finVS = slices.Concat(s.finVS[:bt.vs], mine, s.finVS[bt.vs+bt.nvs:])
	}
	unsorted := slices.Concat(parseDiags, s.finPre)
	for _, d := range finVS {
		unsorted = append(unsorted, d...)
	}
	diags := slices.Clone(unsorted)
	sortDiags(diags)

	// Commit: s becomes the parse of data.
	dst, ddiag, dvs := len(pp.st)-(b-a), len(p.diags)-(bt.d1-bt.d0), nvs-bt.nvs
	if dst == 0 {
		copy(s.st[a:b], pp.st)
	} else {
		s.st = slices.Concat(s.st[:a], pp.st, s.st[b:])
	}
	copy(s.lines.st[l0:], lineSt)
	if dst != 0 || delta != 0 {
		for l := l1 + 1; l < nl; l++ {
			s.lines.st[l] += dst
			s.lines.off[l] += delta
		}
	}
	bt.st1 += dst
	bt.d1 += ddiag
	bt.nvs = nvs
	s.blocks[bi] = bt
	for i := bi + 1; i < len(s.blocks); i++ {
		s.blocks[i].st0 += dst
		s.blocks[i].st1 += dst
		s.blocks[i].d0 += ddiag
		s.blocks[i].d1 += ddiag
		s.blocks[i].vs += dvs
	}
	// The new text replaces the old one; the new lines' words were copied, so nothing refers to
	// it. The old one becomes the next read's buffer when nothing refers to it either.
	private := spare
	if !owned {
		data, private = bytes.Clone(data), true
	}
	if s.dataPrivate {
		in.spare = s.data[:0]
	}
	s.data, s.dataPrivate = data, private
	s.nlines += newNonblank - oldNonblank
	s.work += newNonblank - oldNonblank
	s.parseDiags, s.finVS = parseDiags, finVS
	s.cfg, s.diags = &cfg, diags
	return true, ""
}

func refNames[T any](xs []T, name func(T) string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[name(x)] = true
	}
	return m
}

// commonPrefix is the length of the longest common prefix of a and b. It compares eight bytes
// at a time with plain loads, not bytes.Equal's vector instructions: on a 1 MB file it is as
// quick, and much quicker under emulation (qemu's TCG), where vector instructions are slow.
func commonPrefix(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n && binary.LittleEndian.Uint64(a[i:]) == binary.LittleEndian.Uint64(b[i:]); i += 8 {
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// commonSuffix is the length of the longest common suffix of a and b.
func commonSuffix(a, b []byte) int {
	n := min(len(a), len(b))
	la, lb := len(a), len(b)
	i := 0
	for ; i+8 <= n && binary.LittleEndian.Uint64(a[la-i-8:]) == binary.LittleEndian.Uint64(b[lb-i-8:]); i += 8 {
	}
	for i < n && a[la-1-i] == b[lb-1-i] {
		i++
	}
	return i
}
