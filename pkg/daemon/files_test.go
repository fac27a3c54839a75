package daemon

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPIDFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "run", "x.pid")
	if err := writePIDFile(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("pid file holds %q", b)
	}
	// Our own pid: rewriting is fine (restart within one process in tests).
	if err := writePIDFile(p); err != nil {
		t.Fatal(err)
	}
	// A stale pid of a dead process is replaced.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(p, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	if err := writePIDFile(p); err != nil {
		t.Fatalf("stale pid file: %v", err)
	}
	// A live process running the same program blocks: simulate with a copy of the test binary.
	self, _ := os.Executable()
	live := exec.Command(self, "-test.run=^$", "-test.bench=^$")
	live.Env = append(os.Environ(), "XALIVED_SLEEP_HELPER=1")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	_ = os.WriteFile(p, []byte(strconv.Itoa(live.Process.Pid)), 0o644)
	if err := writePIDFile(p); !errors.Is(err, ErrRunning) {
		t.Fatalf("pid file of a live daemon: %v, want ErrRunning", err)
	}
	_ = live.Process.Kill()
	_ = live.Wait()
	if err := writePIDFile(p); err != nil {
		t.Fatal(err)
	}
	removePIDFile(p)
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("pid file not removed")
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("XALIVED_SLEEP_HELPER") == "1" {
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestReadyAndSdNotify(t *testing.T) {
	dir := t.TempDir()
	rf := filepath.Join(dir, "ready")
	if err := writeReadyFile(rf); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rf); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := sdNotify("READY=1"); sent || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: %v %v", sent, err)
	}
	sock := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	if sent, err := sdNotify("READY=1"); !sent || err != nil {
		t.Fatalf("sd_notify: %v %v", sent, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("got %q %v", buf[:n], err)
	}
}
