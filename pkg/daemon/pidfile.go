package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrRunning is returned when the pid file names a live process other than this one.
var ErrRunning = errors.New("another daemon is running")

// writePIDFile writes the pid of this process to path, refusing when the file names another
// live process (a stale file from a crashed run is replaced).
func writePIDFile(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
				if isSameProgram(pid) {
					return fmt.Errorf("pid file %s: pid %d: %w", path, pid, ErrRunning)
				}
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return nil
}

// isSameProgram reports whether pid runs the same executable as this process (a recycled pid
// of an unrelated program must not block a restart).
func isSameProgram(pid int) bool {
	self, err1 := os.Readlink("/proc/self/exe")
	other, err2 := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err1 != nil || err2 != nil {
		return true // cannot tell: be careful
	}
	return filepath.Base(self) == filepath.Base(strings.TrimSuffix(other, " (deleted)"))
}

// removePIDFile removes path if it still names this process.
func removePIDFile(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid == os.Getpid() {
		_ = os.Remove(path)
	}
}
