package check

import (
	"context"
	"fmt"
	"time"

	"github.com/xalived/xalived/pkg/notify"
)

// miscGrace is the wait between SIGTERM and SIGKILL of a timed-out MISC_CHECK script.
const miscGrace = time.Second

// probeMisc runs misc_path: exit 0 succeeds, 1 fails; with misc_dynamic 2..255 succeed and set
// the weight to exit-2 (keepalived: the weight is increased by exit-2-configured weight). A
// script killed by a signal or timing out fails.
func probeMisc(ctx context.Context, s Spec, script notify.Script, baseWeight int) (Outcome, error) {
	res, err := notify.Run(ctx, script, s.Misc.Timeout, miscGrace)
	if err != nil {
		return Outcome{}, err
	}
	if res.TimedOut {
		return Outcome{}, fmt.Errorf("misc_path timed out after %v", s.Misc.Timeout)
	}
	switch code := res.ExitCode; {
	case code == 0:
		return Outcome{OK: true}, nil
	case code >= 2 && code <= 255 && s.Misc.Dynamic:
		w := code - 2 - baseWeight
		return Outcome{OK: true, Weight: &w}, nil
	case code < 0:
		return Outcome{}, fmt.Errorf("misc_path killed by a signal")
	default:
		return Outcome{}, fmt.Errorf("misc_path exited %d", code)
	}
}
