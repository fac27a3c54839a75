package config

// entry is a keyword handler of a static table: it receives the object the
// block is building, so the table is built once, not per block.
type entry[T any] struct {
	fn    func(p *parser, s stmt, x T)
	block bool
}

// tableT is a static keyword table for blocks building a T.
type tableT[T any] map[string]entry[T]

// bodyT is body for static tables (the hot paths: real servers, checkers,
// urls, of which a large configuration has tens of thousands).
func bodyT[T any](p *parser, t tableT[T], x T) {
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
		h, ok := t[s.kw()]
		if !ok {
			p.errorf(s.pos, "unknown keyword '%s'", s.kw())
			if s.open {
				p.errorf(s.pos, "unexpected '{' - ignoring")
			}
			continue
		}
		h.fn(p, s, x)
		if !h.block && s.open {
			p.errorf(s.pos, "unexpected '{' - ignoring")
		}
	}
}

// Small constructors for common handler shapes.

func durField[T any](get func(T) **Duration, lo, hi float64) entry[T] {
	return entry[T]{fn: func(p *parser, s stmt, x T) {
		if d, ok := p.secArg(s, lo, hi); ok {
			*get(x) = &d
		}
	}}
}

func strField[T any](get func(T) *string) entry[T] {
	return entry[T]{fn: func(p *parser, s stmt, x T) {
		if v, ok := p.str(s); ok {
			*get(x) = v
		}
	}}
}

func boolField[T any](get func(T) *bool) entry[T] {
	return entry[T]{fn: func(p *parser, s stmt, x T) { *get(x) = p.boolArg(s) }}
}
