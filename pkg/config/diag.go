package config

import (
	"errors"
	"fmt"
	"strings"
)

// Severity says whether keepalived would go on (Warning) or refuse the
// configuration / the keyword with a config error (Error).
type Severity int

// Severities, in increasing order.
const (
	Warning Severity = iota
	Error
)

// String returns "warning" or "error".
func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// MarshalText makes Severity print as its name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "warning" or "error".
func (s *Severity) UnmarshalText(b []byte) error {
	switch string(b) {
	case "warning":
		*s = Warning
	case "error":
		*s = Error
	default:
		return fmt.Errorf("unknown severity %q", b)
	}
	return nil
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Late marks problems found by validation after a block was read
	// (cross-references, defaults). keepalived reports these without a
	// line number; Pos then points at the block concerned.
	Late bool `json:"late,omitempty"`
}

// String formats the diagnostic as FILE:LINE: severity: message.
func (d Diagnostic) String() string {
	if d.Pos.File == "" && d.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", d.Severity, d.Message)
	}
	if d.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s: %s", d.Pos.File, d.Severity, d.Message)
	}
	return fmt.Sprintf("%s:%d: %s: %s", d.Pos.File, d.Pos.Line, d.Severity, d.Message)
}

// Diagnostics is the list of problems of one parse, in file order.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// Err returns nil when there is no error, otherwise an *InvalidError
// holding every diagnostic.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	return &InvalidError{Diagnostics: ds}
}

// String prints one diagnostic per line.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ErrInvalid is matched (errors.Is) by the error Parse returns for a
// configuration keepalived would refuse.
var ErrInvalid = errors.New("invalid configuration")

// InvalidError is returned when a configuration has errors.
type InvalidError struct {
	Diagnostics Diagnostics
}

// Error summarises the errors: the first one and how many there are.
func (e *InvalidError) Error() string {
	n := 0
	first := ""
	for _, d := range e.Diagnostics {
		if d.Severity == Error {
			if n == 0 {
				first = d.String()
			}
			n++
		}
	}
	if n == 1 {
		return "invalid configuration: " + first
	}
	return fmt.Sprintf("invalid configuration: %d errors, first: %s", n, first)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }
