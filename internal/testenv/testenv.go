// Package testenv decides whether a test can run on this machine and makes every skip loud.
//
// A test that needs root, a command or a kernel feature calls one of the Require helpers.
// Outside CI a missing requirement skips the test with the reason; with XALIVED_STRICT=1
// (set by .ci/run) it fails the test instead, so CI can never pass by skipping a privileged tier.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether skips must be failures (CI).
func Strict() bool { return os.Getenv("XALIVED_STRICT") == "1" }

// Skip skips the test with a reason, or fails it in strict mode.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatalf("required under XALIVED_STRICT=1 but unavailable: %s", msg)
	}
	t.Skip("skipped: " + msg)
}

// RequireRoot skips (or fails in strict mode) unless the test runs as root.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root")
	}
}

// RequireCommand skips (or fails in strict mode) unless every named program is on PATH.
func RequireCommand(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			Skip(t, "needs %s on PATH (make deps installs it)", n)
		}
	}
}
