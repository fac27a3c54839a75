package check

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// probeFile reads a track_file's value (the first integer in the file; init_file's value or 0
// when the file is missing). With weight 0 the checker is UP iff the value is 0 (reverse: iff
// non-zero), as track_file with weight 0 faults on a non-zero value. With a weight the checker
// stays UP and, when dynamic, adds value x weight (negated with reverse) to the real server's
// weight. An unreadable or non-numeric file is a failure.
func probeFile(s Spec) (Outcome, error) {
	f := s.File
	v := 0
	b, err := os.ReadFile(f.Path)
	switch {
	case err == nil:
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			break
		}
		if v, err = strconv.Atoi(fields[0]); err != nil {
			return Outcome{}, fmt.Errorf("track_file %s: value %q: %w", f.Path, fields[0], err)
		}
	case os.IsNotExist(err) && f.Init != nil:
		v = *f.Init
	case os.IsNotExist(err):
	default:
		return Outcome{}, fmt.Errorf("track_file %s: %w", f.Path, err)
	}
	if f.Weight == 0 {
		if (v == 0) != f.Reverse {
			return Outcome{OK: true}, nil
		}
		return Outcome{}, fmt.Errorf("track_file %s: value %d", f.Path, v)
	}
	o := Outcome{OK: true}
	if f.Dynamic {
		w := v * f.Weight
		if f.Reverse {
			w = -w
		}
		o.Weight = &w
	}
	return o, nil
}
