package vmenv

import (
	"os"
	"strings"
	"testing"
)

// GuestEnv is set to 1 by the guest's init; tests built with the vmtest tag outside the guest fail
// early with a clear message instead of failing later on a missing kernel feature.
const GuestEnv = "XALIVED_VMTEST"

// InGuest reports whether the process runs inside a vmtest guest.
func InGuest() bool { return os.Getenv(GuestEnv) == "1" }

// Has reports whether a kernel module (or built-in feature with a /sys/module entry) is present.
func Has(module string) bool {
	_, err := os.Stat("/sys/module/" + strings.ReplaceAll(module, "-", "_"))
	return err == nil
}

// Require fails the test unless it runs in the vmtest guest and every named module is loaded.
func Require(t testing.TB, modules ...string) {
	t.Helper()
	if !InGuest() {
		t.Fatalf("this test runs only inside the vmtest guest: use `make vmtest` (or go run ./vmtest)")
	}
	for _, m := range modules {
		if !Has(m) {
			t.Fatalf("kernel %s has no module %s loaded in the guest (vmtest loads the modules listed in vmtest/modules.go)", Release(), m)
		}
	}
}

// Release returns the running kernel's release string.
func Release() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
