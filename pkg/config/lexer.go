package config

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unsafe"
)

// Limits that keep hostile input from hanging or exhausting the parser.
const (
	maxIncludeDepth = 32        // nested include levels
	maxExpandDepth  = 32        // nested $VAR expansions / ~SEQ / multi-line definitions
	maxLines        = 2_000_000 // logical lines produced by the preprocessor
	maxLineBytes    = 1 << 20   // one logical line after substitution
	maxTotalBytes   = 256 << 20 // all text produced by substitution
)

// word is one token; quoted words are never braces.
type word struct {
	text   string
	quoted bool
}

func (w word) isOpen() bool  { return !w.quoted && w.text == "{" }
func (w word) isClose() bool { return !w.quoted && w.text == "}" }

// FS is what the preprocessor reads files through; os.DirFS-like but with
// absolute paths. The default reads the real filesystem.
type FS interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error) { return os.ReadFile(name) }
func (osFS) Glob(p string) ([]string, error)      { return filepath.Glob(p) }

// preprocessor turns files into logical lines.
type preprocessor struct {
	fs       FS
	configID string
	diags    *Diagnostics
	vars     map[string]string
	// st are the statements of the logical lines read so far (see emit).
	st []stmt
	// nlines counts the logical lines.
	nlines   int
	files    []string
	seen     map[string]int // files currently open (include loops)
	overflow bool
	// maxLines bounds the logical lines (and the work) of one parse.
	maxLines int
	// work counts logical() calls; produced counts substituted bytes.
	work, produced int
	// includeCheck is the global include_check level (bit set).
	includeCheck int
	// sbuf is where statements' words are carved from, many to an allocation;
	// scratch holds the words of the line being emitted.
	sbuf    []string
	scratch []word
	// noFastPath sends every line through the general path (tests compare both).
	noFastPath bool
	// owned says the data being read was read by the preprocessor's own FS (not a caller's
	// buffer): the main file of ParseFile, and every included file.
	owned bool
	// track, when set, records the main file's lines for Incremental (see lineTrack);
	// sawInclude says an include directive was met (Incremental then always parses in full).
	track      *lineTrack
	sawInclude bool
}

const (
	incReadable = 1 << iota
	incMatch
	incWildcard
	incBrace
)

func (p *preprocessor) diag(pos Pos, sev Severity, format string, args ...any) {
	*p.diags = append(*p.diags, Diagnostic{Pos: pos, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// readFile preprocesses one file (the main file, or an included one).
func (p *preprocessor) readFile(name string, depth int, from Pos) bool {
	if depth > maxIncludeDepth {
		p.diag(from, Error, "include nesting deeper than %d levels at %s", maxIncludeDepth, name)
		return false
	}
	key := name
	if a, err := filepath.Abs(name); err == nil {
		key = a
	}
	if p.seen[key] > 0 {
		p.diag(from, Error, "include loop: %s includes itself", name)
		return false
	}
	data, err := p.fs.ReadFile(name)
	if err != nil {
		return false
	}
	p.seen[key]++
	defer func() { p.seen[key]-- }()
	p.files = append(p.files, name)
	p.readData(name, data, depth)
	return true
}

func (p *preprocessor) readData(name string, data []byte, depth int) {
	if p.st == nil {
		n := min(bytes.Count(data, []byte{'\n'})+1, p.maxLines)
		p.st = make([]stmt, 0, n+n/4)
	}
	dir := filepath.Dir(name)
	// One string for the whole file: lines and plain words are substrings. A file read here
	// from the real filesystem is ours alone and never written, so it need not be copied.
	var rest string
	if _, real := p.fs.(osFS); real && p.owned && len(data) > 0 {
		rest = unsafe.String(unsafe.SliceData(data), len(data))
	} else {
		rest = string(data)
	}
	p.owned = true // included files are read by readFile
	tr := p.track
	p.track = nil // only the main file is tracked, not the files it includes
	total := len(rest)
	n := 0
	var cont strings.Builder // a multi-line $DEF= \ being collected
	var contPos Pos
	var contName string
	collecting := false
	for len(rest) > 0 {
		off := total - len(rest)
		var raw string
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, ""
		}
		n++
		if tr != nil {
			tr.add(off, len(p.st))
		}
		if len(raw) > maxLineBytes {
			p.diag(Pos{File: name, Line: n}, Error, "line longer than %d bytes - ignored", maxLineBytes)
			continue
		}
		pos := Pos{File: name, Line: n}
		if !collecting && !p.noFastPath {
			// The common line: what the general path below would do to it, in one pass.
			if words, ok := appendPlainLine(p.scratch[:0], raw); ok {
				p.scratch = words
				if tr != nil {
					tr.direct[n-1] = true
				}
				p.plain(pos)
				if p.overflow {
					return
				}
				continue
			}
		}
		text := strings.TrimRight(raw, "\r")
		if collecting {
			t := stripComment(text)
			t = strings.TrimRight(t, " \t")
			if strings.TrimSpace(t) == "" && strings.TrimSpace(text) != "" {
				// a comment line inside a multi-line definition
				continue
			}
			more := strings.HasSuffix(t, "\\")
			if more {
				t = strings.TrimSuffix(t, "\\")
			}
			if strings.TrimSpace(t) != "" {
				if cont.Len() > 0 {
					cont.WriteByte('\n')
				}
				cont.WriteString(t)
			}
			if !more {
				collecting = false
				p.vars[contName] = cont.String()
				cont.Reset()
			}
			continue
		}
		trimmed := strings.TrimSpace(stripComment(text))
		if trimmed == "" {
			continue
		}
		if strings.HasPrefix(trimmed, "include") {
			if f := strings.Fields(trimmed); f[0] == "include_check" {
				p.setIncludeCheck(f[1:], pos)
				continue
			}
			// include is recognised before conditionals and parameters.
			if kw, arg, ok := includeLine(trimmed); ok {
				p.include(kw, arg, dir, pos, depth)
				continue
			}
		}
		// A multi-line definition: $NAME= \ (nothing after the '=' but '\').
		if nm, val, ok := definition(trimmed); ok && strings.HasSuffix(strings.TrimRight(val, " \t"), "\\") {
			first := strings.TrimSpace(strings.TrimSuffix(strings.TrimRight(val, " \t"), "\\"))
			collecting = true
			contName = nm
			contPos = pos
			cont.Reset()
			if first != "" {
				cont.WriteString(first)
			}
			continue
		}
		p.logical(trimmed, pos, dir, 0)
		if p.overflow {
			return
		}
	}
	if collecting {
		p.vars[contName] = cont.String()
		_ = contPos
	}
}

// lineClass sorts bytes for appendPlainLine.
var lineClass = func() (t [256]uint8) {
	for c := 0x80; c < 0x100; c++ {
		t[c] = classNotPlain
	}
	for _, c := range "\r#!\"'\\$" {
		t[c] = classNotPlain
	}
	for _, c := range " \t\v\f" {
		t[c] = classSpace
	}
	t['{'], t['}'] = classBrace, classBrace
	return t
}()

const (
	classWord = iota
	classSpace
	classBrace
	classNotPlain
)

// appendPlainLine splits a physical line that needs none of the preprocessor's work into words
// (as tokenizePlain would), or reports that it is not such a line: plain lines are ASCII
// without carriage returns, comments, quotes, escapes or parameters, and are not an include, a
// conditional (@) or a ~SEQ/~LST.
func appendPlainLine(words []word, raw string) ([]word, bool) {
	start := -1
	first := true
	for i := 0; i < len(raw); i++ {
		switch lineClass[raw[i]] {
		case classWord:
			if start < 0 {
				start = i
				if first {
					first = false
					if c := raw[i]; c == '@' || c == '~' || c == 'i' && strings.HasPrefix(raw[i:], "include") {
						return words, false
					}
				}
			}
		case classSpace:
			if start >= 0 {
				words = append(words, word{text: raw[start:i]})
				start = -1
			}
		case classBrace:
			if start >= 0 {
				words = append(words, word{text: raw[start:i]})
				start = -1
			}
			first = false
			words = append(words, word{text: raw[i : i+1]})
		default:
			return words, false
		}
	}
	if start >= 0 {
		words = append(words, word{text: raw[start:]})
	}
	return words, true
}

// plain is readData and logical for a plain line (its words in p.scratch): trimming, stripping a
// comment and substituting change nothing, so the words go straight to emit, with the same
// accounting.
func (p *preprocessor) plain(pos Pos) {
	if len(p.scratch) == 0 || p.overflow {
		return // blank: readData skips it before logical
	}
	p.work++
	if p.work > 4*p.maxLines {
		p.diag(pos, Error, "configuration expands to too much work (more than %d line expansions)", 4*p.maxLines)
		p.overflow = true
		return
	}
	if p.nlines >= p.maxLines {
		p.diag(pos, Error, "configuration expands to more than %d lines", p.maxLines)
		p.overflow = true
		return
	}
	p.nlines++
	p.emit(pos, p.scratch)
}

// stripComment removes an unquoted # or ! comment.
func stripComment(s string) string {
	var q byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == '\\' && i+1 < len(s) {
				i++
			} else if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '\\' && i+1 < len(s):
			i++
		case c == '#' || c == '!':
			return s[:i]
		}
	}
	return s
}

// includeLine recognises "include FILE" and its variants.
func includeLine(s string) (kw, arg string, ok bool) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "", "", false
	}
	switch f[0] {
	case "include", "includer", "includem", "includew", "includeb", "includea":
	default:
		return "", "", false
	}
	return f[0], strings.TrimSpace(s[len(f[0]):]), true
}

func (p *preprocessor) include(kw, arg, dir string, pos Pos, depth int) {
	p.sawInclude = true
	if arg == "" {
		p.diag(pos, Error, "%s: no file name", kw)
		return
	}
	arg = unquoteSimple(arg)
	check := p.includeCheck
	switch kw {
	case "includer":
		check |= incReadable
	case "includem":
		check |= incMatch
	case "includew":
		check |= incWildcard
	case "includeb":
		check |= incBrace
	case "includea":
		check |= incReadable | incMatch | incWildcard | incBrace
	}
	pattern := arg
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(dir, pattern)
	}
	var matches []string
	for _, pat := range braceExpand(pattern, 0) {
		m, err := p.fs.Glob(pat)
		if err != nil {
			p.diag(pos, Error, "%s %s: %v", kw, arg, err)
			return
		}
		if len(m) == 0 && check&(incBrace|incWildcard) != 0 && pat != pattern {
			p.diag(pos, Error, "%s %s: no file matches %s", kw, arg, pat)
		}
		matches = append(matches, m...)
	}
	sort.Strings(matches)
	if len(matches) == 0 {
		switch {
		case check&incMatch != 0 || (check&incWildcard != 0 && strings.ContainsAny(arg, "*?[")):
			p.diag(pos, Error, "config files missing '%s'", arg)
		case check == 0:
			p.diag(pos, Warning, "config files missing '%s'", arg)
		}
		return
	}
	for _, m := range matches {
		if !p.readFile(m, depth+1, pos) && check&incReadable != 0 {
			p.diag(pos, Error, "%s: cannot read %s", kw, m)
		}
		if p.overflow {
			return
		}
	}
}

// setIncludeCheck handles "include_check [+|-]opt ...": readable, match,
// wildcard_match, brace_match, all (none means all).
func (p *preprocessor) setIncludeCheck(opts []string, pos Pos) {
	if len(opts) == 0 {
		p.includeCheck = incReadable | incMatch | incWildcard | incBrace
		return
	}
	for _, o := range opts {
		set := true
		if strings.HasPrefix(o, "-") {
			set, o = false, o[1:]
		} else {
			o = strings.TrimPrefix(o, "+")
		}
		var bit int
		switch o {
		case "readable":
			bit = incReadable
		case "match":
			bit = incMatch
		case "wildcard_match":
			bit = incWildcard
		case "brace_match":
			bit = incBrace
		case "all":
			bit = incReadable | incMatch | incWildcard | incBrace
		default:
			p.diag(pos, Error, "unknown include_check option '%s'", o)
			continue
		}
		if set {
			p.includeCheck |= bit
		} else {
			p.includeCheck &^= bit
		}
	}
}

// unquoteSimple strips one level of surrounding quotes.
func unquoteSimple(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// braceExpand performs csh-style {a,b} expansion.
func braceExpand(s string, depth int) []string {
	if depth > 8 {
		return []string{s}
	}
	open := -1
	lvl := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if lvl == 0 {
				open = i
			}
			lvl++
		case '}':
			if lvl == 0 {
				continue
			}
			lvl--
			if lvl == 0 {
				// split the inside on top-level commas
				inner := s[open+1 : i]
				var alts []string
				l2, start := 0, 0
				for j := 0; j < len(inner); j++ {
					switch inner[j] {
					case '{':
						l2++
					case '}':
						l2--
					case ',':
						if l2 == 0 {
							alts = append(alts, inner[start:j])
							start = j + 1
						}
					}
				}
				alts = append(alts, inner[start:])
				if len(alts) < 2 {
					// not an alternation; keep literal, expand the rest
					var out []string
					for _, rest := range braceExpand(s[i+1:], depth+1) {
						out = append(out, s[:i+1]+rest)
					}
					return out
				}
				var out []string
				for _, a := range alts {
					out = append(out, braceExpand(s[:open]+a+s[i+1:], depth+1)...)
					if len(out) > 1024 {
						return out
					}
				}
				return out
			}
		}
	}
	return []string{s}
}

// definition recognises "$NAME=VALUE".
func definition(s string) (name, value string, ok bool) {
	if len(s) < 3 || s[0] != '$' {
		return "", "", false
	}
	i := 1
	for i < len(s) && isIdent(s[i], i == 1) {
		i++
	}
	if i == 1 || i >= len(s) || s[i] != '=' {
		return "", "", false
	}
	return s[1:i], s[i+1:], true
}

func isIdent(c byte, first bool) bool {
	if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') {
		return true
	}
	return !first && c >= '0' && c <= '9'
}

// logical handles one line (physical, or produced by a substitution):
// conditionals, definitions, ~SEQ/~LST, substitution, then tokenising.
func (p *preprocessor) logical(s string, pos Pos, dir string, depth int) {
	if p.overflow {
		return
	}
	if depth > maxExpandDepth {
		p.diag(pos, Error, "parameter expansion nested deeper than %d levels", maxExpandDepth)
		return
	}
	p.work++
	if p.work > 4*p.maxLines {
		p.diag(pos, Error, "configuration expands to too much work (more than %d line expansions)", 4*p.maxLines)
		p.overflow = true
		return
	}
	s = strings.TrimSpace(s)
	for strings.HasPrefix(s, "@") {
		neg := strings.HasPrefix(s, "@^")
		rest := s[1:]
		if neg {
			rest = s[2:]
		}
		end := strings.IndexAny(rest, " \t")
		id := rest
		if end >= 0 {
			id, rest = rest[:end], rest[end:]
		} else {
			rest = ""
		}
		if (id == p.configID) == neg {
			return
		}
		s = strings.TrimSpace(rest)
	}
	if s == "" {
		return
	}
	if nm, val, ok := definition(s); ok {
		p.vars[nm] = strings.TrimSpace(val)
		return
	}
	if strings.HasPrefix(s, "~SEQ") || strings.HasPrefix(s, "~LST") {
		p.repeat(s, pos, dir, depth)
		return
	}
	expanded, multi := p.substitute(s, pos, dir, 0)
	if multi {
		for _, l := range strings.Split(expanded, "\n") {
			p.logical(l, pos, dir, depth+1)
		}
		return
	}
	words, err := p.tokenize(expanded)
	if err != nil {
		p.diag(pos, Warning, "%v", err)
	}
	if len(words) == 0 {
		return
	}
	if p.nlines >= p.maxLines {
		p.diag(pos, Error, "configuration expands to more than %d lines", p.maxLines)
		p.overflow = true
		return
	}
	p.nlines++
	p.emit(pos, words)
}

// emit turns one logical line into statements: the words up to a brace
// make a statement ("{" ends an open one), a "}" is a statement of its own,
// and a "{" with no words before it is a bare open.
func (p *preprocessor) emit(pos Pos, words []word) {
	n := 0
	for _, w := range words {
		if !w.isOpen() && !w.isClose() {
			n++
		}
	}
	if cap(p.sbuf)-len(p.sbuf) < n {
		p.sbuf = make([]string, 0, max(n, 4096))
	}
	// Each statement's words are a full slice expression of sbuf, which
	// never moves within a chunk.
	start := len(p.sbuf)
	flush := func(open bool) {
		if len(p.sbuf) > start {
			w := p.sbuf[start:len(p.sbuf):len(p.sbuf)]
			p.st = append(p.st, stmt{pos: pos, words: w, open: open})
		} else if open {
			p.st = append(p.st, stmt{pos: pos, bareOpen: true})
		}
		start = len(p.sbuf)
	}
	for _, w := range words {
		switch {
		case w.isOpen():
			flush(true)
		case w.isClose():
			flush(false)
			p.st = append(p.st, stmt{pos: pos, close: true})
		default:
			p.sbuf = append(p.sbuf, w.text)
		}
	}
	flush(false)
}

// substitute replaces $NAME (followed by whitespace or end) and ${NAME}
// recursively. It reports whether the result spans several lines (a
// multi-line definition was used), in which case the caller re-processes
// each line.
func (p *preprocessor) substitute(s string, pos Pos, dir string, depth int) (string, bool) {
	if !strings.Contains(s, "$") {
		return s, false
	}
	if depth > maxExpandDepth {
		p.diag(pos, Error, "parameter substitution nested deeper than %d levels", maxExpandDepth)
		return s, false
	}
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			inner := s[i+2 : i+2+end]
			if v, ok := p.lookup(inner, dir); ok {
				b.WriteString(v)
				changed = true
				i += 2 + end
				continue
			}
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(s) && isIdent(s[j], j == i+1) {
			j++
		}
		if j == i+1 || (j < len(s) && s[j] != ' ' && s[j] != '\t') {
			b.WriteByte(c)
			continue
		}
		if v, ok := p.vars[s[i+1:j]]; ok {
			b.WriteString(v)
			changed = true
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	p.produced += len(out)
	if p.produced > maxTotalBytes {
		p.diag(pos, Error, "configuration expands to more than %d bytes", maxTotalBytes)
		p.overflow = true
		return "", false
	}
	if len(out) > maxLineBytes {
		p.diag(pos, Error, "line longer than %d bytes after substitution", maxLineBytes)
		p.overflow = true
		return "", false
	}
	if !changed {
		return out, false
	}
	if strings.Contains(out, "\n") {
		return out, true
	}
	return p.substitute(out, pos, dir, depth+1)
}

// lookup resolves NAME inside ${...}, including the predefined ones.
func (p *preprocessor) lookup(inner, dir string) (string, bool) {
	f := strings.Fields(inner)
	if len(f) == 0 {
		return "", false
	}
	switch f[0] {
	case "_PWD":
		if a, err := filepath.Abs(dir); err == nil {
			return a, true
		}
		return dir, true
	case "_INSTANCE":
		return p.configID, true
	case "_HASH":
		return "#", true
	case "_BANG":
		return "!", true
	case "_ENV":
		if len(f) == 2 {
			return os.Getenv(f[1]), true
		}
	case "_RANDOM":
		lo, hi := 0, 32767
		if len(f) > 1 {
			if v, err := strconv.Atoi(f[1]); err == nil && v >= 0 {
				lo = v
			}
		}
		if len(f) > 2 {
			if v, err := strconv.Atoi(f[2]); err == nil && v >= lo {
				hi = v
			}
		}
		return strconv.Itoa(lo + rand.IntN(hi-lo+1)), true
	}
	if len(f) != 1 {
		return "", false
	}
	v, ok := p.vars[inner]
	return v, ok
}

// repeat expands a line starting with ~SEQ(...), ~SEQx(...) or ~LST(...).
func (p *preprocessor) repeat(s string, pos Pos, dir string, depth int) {
	hex := strings.HasPrefix(s, "~SEQx(")
	isSeq := strings.HasPrefix(s, "~SEQ")
	open := strings.IndexByte(s, '(')
	if open < 0 || (isSeq && open != 4 && !(hex && open == 5)) || (!isSeq && open != 4) {
		p.diag(pos, Error, "malformed %s", firstWord(s))
		return
	}
	// find the matching ')'
	lvl, end := 0, -1
	for i := open; i < len(s); i++ {
		if s[i] == '(' {
			lvl++
		} else if s[i] == ')' {
			lvl--
			if lvl == 0 {
				end = i
				break
			}
		}
	}
	if end < 0 {
		p.diag(pos, Error, "missing ')' in %s", firstWord(s))
		return
	}
	spec := s[open+1 : end]
	rest := strings.TrimSpace(s[end+1:])
	if isSeq {
		args := strings.Split(spec, ",")
		for i := range args {
			args[i] = strings.TrimSpace(args[i])
		}
		if len(args) < 2 || len(args) > 4 || !validName(args[0]) {
			p.diag(pos, Error, "malformed ~SEQ(%s)", spec)
			return
		}
		nums := make([]int64, 0, 3)
		for _, a := range args[1:] {
			a, _ = p.substitute(a, pos, dir, 0)
			v, err := strconv.ParseInt(a, 0, 64)
			if err != nil {
				p.diag(pos, Error, "invalid number '%s' in ~SEQ", a)
				return
			}
			nums = append(nums, v)
		}
		var start, step, stop int64
		switch len(nums) {
		case 1:
			stop = nums[0]
			start = 1
			if stop < 0 {
				start = -1
			}
		case 2:
			start, stop = nums[0], nums[1]
		case 3:
			start, step, stop = nums[0], nums[1], nums[2]
		}
		if step == 0 {
			step = 1
			if stop < start {
				step = -1
			}
		}
		if (step > 0 && start > stop) || (step < 0 && start < stop) {
			return
		}
		count := (stop-start)/step + 1
		if count > int64(p.maxLines) || int64(p.work)+count > 4*int64(p.maxLines) {
			p.diag(pos, Error, "~SEQ expands to more than %d lines", p.maxLines)
			p.overflow = true
			return
		}
		saved, had := p.vars[args[0]]
		for v := start; (step > 0 && v <= stop) || (step < 0 && v >= stop); v += step {
			if hex {
				p.vars[args[0]] = strconv.FormatInt(v, 16)
			} else {
				p.vars[args[0]] = strconv.FormatInt(v, 10)
			}
			p.logical(rest, pos, dir, depth+1)
			if p.overflow {
				break
			}
		}
		if had {
			p.vars[args[0]] = saved
		} else {
			delete(p.vars, args[0])
		}
		return
	}
	names, rows, err := parseList(spec)
	if err != nil {
		p.diag(pos, Error, "malformed ~LST(%s): %v", spec, err)
		return
	}
	saved := map[string]*string{}
	for _, n := range names {
		if v, ok := p.vars[n]; ok {
			saved[n] = &v
		} else {
			saved[n] = nil
		}
	}
	for _, row := range rows {
		for i, n := range names {
			p.vars[n] = row[i]
		}
		p.logical(rest, pos, dir, depth+1)
		if p.overflow {
			break
		}
	}
	for n, v := range saved {
		if v == nil {
			delete(p.vars, n)
		} else {
			p.vars[n] = *v
		}
	}
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdent(s[i], i == 0) {
			return false
		}
	}
	return true
}

// parseList reads "VAR, v1, v2" or "{A, B}, {1, 2}, {3, 4}".
func parseList(spec string) ([]string, [][]string, error) {
	items, err := splitListItems(spec)
	if err != nil {
		return nil, nil, err
	}
	if len(items) < 2 {
		return nil, nil, fmt.Errorf("need a variable and at least one value")
	}
	group := func(s string) []string {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			parts := strings.Split(s[1:len(s)-1], ",")
			for i := range parts {
				parts[i] = strings.TrimSpace(parts[i])
			}
			return parts
		}
		return []string{s}
	}
	names := group(items[0])
	for _, n := range names {
		if !validName(n) {
			return nil, nil, fmt.Errorf("bad variable name %q", n)
		}
	}
	var rows [][]string
	for _, it := range items[1:] {
		row := group(it)
		if len(row) != len(names) {
			return nil, nil, fmt.Errorf("%d values for %d variables", len(row), len(names))
		}
		rows = append(rows, row)
	}
	return names, rows, nil
}

func splitListItems(s string) ([]string, error) {
	var out []string
	lvl, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			lvl++
		case '}':
			lvl--
			if lvl < 0 {
				return nil, fmt.Errorf("unbalanced '}'")
			}
		case ',':
			if lvl == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	if lvl != 0 {
		return nil, fmt.Errorf("unbalanced '{'")
	}
	return append(out, strings.TrimSpace(s[start:])), nil
}

// tokenize splits a line into words: whitespace separates, quotes group
// (and are removed), escapes are resolved inside quotes, and unquoted
// braces are words of their own.
func tokenize(s string) ([]word, error) {
	if !strings.ContainsAny(s, "\"'\\") {
		return tokenizePlain(s), nil
	}
	var words []word
	var cur strings.Builder
	inWord, quoted := false, false
	var err error
	flush := func() {
		if inWord {
			words = append(words, word{text: cur.String(), quoted: quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\v' || c == '\f':
			flush()
		case c == '{' || c == '}':
			flush()
			words = append(words, word{text: string(c)})
		case c == '"' || c == '\'':
			inWord, quoted = true, true
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					n, r := unescape(s[j+1:])
					cur.WriteString(r)
					j += n
					continue
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) && err == nil {
				err = fmt.Errorf("unterminated quoted string")
			}
			i = j
		case c == '\\' && i+1 < len(s):
			inWord = true
			cur.WriteByte(s[i+1])
			i++
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return words, err
}

// tokenize is the package's tokenize with the words of plain lines in a
// buffer reused from line to line.
func (p *preprocessor) tokenize(s string) ([]word, error) {
	if strings.ContainsAny(s, "\"'\\") {
		return tokenize(s)
	}
	// The words only live until emit has copied their text.
	p.scratch = appendPlainWords(p.scratch[:0], s)
	return p.scratch, nil
}

// countPlainWords is the number of words tokenizePlain finds in s.
func countPlainWords(s string) int {
	n := 0
	in := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\v', '\f':
			in = false
		case '{', '}':
			in = false
			n++
		default:
			if !in {
				n++
				in = true
			}
		}
	}
	return n
}

// tokenizePlain is tokenize for lines without quotes or backslashes: the
// words are substrings of the line.
func tokenizePlain(s string) []word {
	return appendPlainWords(make([]word, 0, countPlainWords(s)), s)
}

func appendPlainWords(words []word, s string) []word {
	start := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\v', '\f', '{', '}':
			if start >= 0 {
				words = append(words, word{text: s[start:i]})
				start = -1
			}
			if c == '{' {
				words = append(words, word{text: "{"})
			} else if c == '}' {
				words = append(words, word{text: "}"})
			}
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		words = append(words, word{text: s[start:]})
	}
	return words
}

// unescape reads one escape sequence after a backslash; it returns the
// number of bytes consumed and the text produced.
func unescape(s string) (int, string) {
	switch s[0] {
	case 'a':
		return 1, "\a"
	case 'b':
		return 1, "\b"
	case 'E':
		return 1, "\x1b"
	case 'f':
		return 1, "\f"
	case 'n':
		return 1, "\n"
	case 'r':
		return 1, "\r"
	case 't':
		return 1, "\t"
	case 'v':
		return 1, "\v"
	case 'x':
		j := 1
		for j < len(s) && j < 3 && isHex(s[j]) {
			j++
		}
		if j == 1 {
			return 1, "x"
		}
		v, _ := strconv.ParseUint(s[1:j], 16, 8)
		return j, string([]byte{byte(v)})
	case 'c':
		if len(s) > 1 {
			return 2, string([]byte{s[1] & 0x1f})
		}
		return 1, "c"
	}
	if s[0] >= '0' && s[0] <= '7' {
		j := 0
		for j < len(s) && j < 3 && s[j] >= '0' && s[j] <= '7' {
			j++
		}
		v, _ := strconv.ParseUint(s[:j], 8, 16)
		return j, string([]byte{byte(v)})
	}
	return 1, s[:1]
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
