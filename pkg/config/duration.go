package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration that prints as a Go duration string ("1.5s")
// in JSON. Convert with time.Duration(d) or d.D().
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText prints the duration as "1.5s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Seconds builds a Duration from a number of seconds.
func Seconds(s float64) Duration { return Duration(s * float64(time.Second)) }

// parseSeconds reads keepalived's <TIMER>: seconds with an optional
// fraction, microsecond resolution. Negative values and garbage fail.
func parseSeconds(s string) (Duration, error) {
	if s == "" || strings.ContainsAny(s, "eEnNiI+") {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	us := int64(f*1e6 + 0.5)
	return Duration(time.Duration(us) * time.Microsecond), nil
}
