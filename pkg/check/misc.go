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
// script killed by a signal fails. At misc_timeout the verdict (failure) is returned at once;
// the script's process group is still being stopped (SIGTERM, SIGKILL after a grace), and the
// returned Outcome's reap waits for that, so the scheduler never starts the next run early.
func probeMisc(ctx context.Context, s Spec, script notify.Script, baseWeight int) (Outcome, error) {
	type ran struct {
		res notify.Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := notify.Run(ctx, script, s.Misc.Timeout, miscGrace)
		done <- ran{res, err}
	}()
	timer := time.NewTimer(s.Misc.Timeout)
	defer timer.Stop()
	var r ran
	select {
	case r = <-done:
	case <-timer.C:
		return Outcome{reap: func() { <-done }}, fmt.Errorf("misc_path timed out after %v", s.Misc.Timeout)
	}
	if r.err != nil {
		return Outcome{}, r.err
	}
	if r.res.TimedOut {
		return Outcome{}, fmt.Errorf("misc_path timed out after %v", s.Misc.Timeout)
	}
	switch code := r.res.ExitCode; {
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
