package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

func writeScript(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunExitCodeAndNoShell(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "args")
	sh := writeScript(t, dir, "args.sh", "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> "+out+"; done\nexit 3\n", 0o755)
	s, err := ParseScript(sh + " 'a b' $HOME x|y")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), s, 5*time.Second, time.Second, "extra")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.TimedOut || res.OK() {
		t.Fatalf("result %+v, want exit 3", res)
	}
	got, _ := os.ReadFile(out)
	if want := "a b\n$HOME\nx|y\nextra\n"; string(got) != want {
		t.Fatalf("arguments %q, want %q (no shell expansion)", got, want)
	}
}

func TestRunWithoutShebangUsesSh(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	sh := writeScript(t, dir, "plain", "echo ran \"$1\" > "+out+"\n", 0o755)
	res, err := Run(context.Background(), Script{Argv: []string{sh, "arg"}}, 5*time.Second, time.Second)
	if err != nil || !res.OK() {
		t.Fatalf("run: %+v %v", res, err)
	}
	if got, _ := os.ReadFile(out); string(got) != "ran arg\n" {
		t.Fatalf("output %q", got)
	}
}

func TestRunMissingScript(t *testing.T) {
	_, err := Run(context.Background(), Script{Argv: []string{"/nonexistent/xalived-script"}}, time.Second, time.Second)
	if err == nil {
		t.Fatal("want an error for a missing script")
	}
}

// A script that ignores SIGTERM and has a child in its process group: both must be gone when Run
// returns, after timeout + grace.
func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	sh := writeScript(t, dir, "stubborn.sh", "#!/bin/sh\ntrap '' TERM\nsleep 60 &\necho $! > "+pidFile+"\nwhile :; do sleep 0.05; done\n", 0o755)
	start := time.Now()
	res, err := Run(context.Background(), Script{Argv: []string{sh}}, 300*time.Millisecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !res.TimedOut || !res.Killed || res.OK() {
		t.Fatalf("result %+v, want timed out and killed", res)
	}
	if took > 5*time.Second {
		t.Fatalf("Run took %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	// The child was SIGKILLed with the group; it may linger as a zombie of init for a moment.
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the script still running: %s", pid, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("timeout 300ms + grace 300ms: Run returned after %v", took)
}

func TestCheckSecure(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.RequireRoot(t)
	}
	dir := t.TempDir() // root-owned 0700 under sticky /tmp
	good := writeScript(t, dir, "good.sh", "#!/bin/sh\n", 0o755)
	if err := CheckSecure(Script{Argv: []string{good}}); err != nil {
		t.Fatalf("root-owned 0755 script: %v", err)
	}
	worldW := writeScript(t, dir, "ww.sh", "#!/bin/sh\n", 0o757)
	if err := CheckSecure(Script{Argv: []string{worldW}}); !errors.Is(err, ErrInsecure) {
		t.Fatalf("world-writable script: %v, want ErrInsecure", err)
	}
	// A non-root user's script, run as that user, is not judged.
	if err := CheckSecure(Script{Argv: []string{worldW}, Cred: &syscall.Credential{Uid: 65534, Gid: 65534}}); err != nil {
		t.Fatalf("script run as nobody: %v", err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(open, 0o777)
	inOpen := writeScript(t, open, "s.sh", "#!/bin/sh\n", 0o755)
	if err := CheckSecure(Script{Argv: []string{inOpen}}); !errors.Is(err, ErrInsecure) {
		t.Fatalf("script in a world-writable directory: %v, want ErrInsecure", err)
	}
	sticky := filepath.Join(dir, "sticky")
	_ = os.Mkdir(sticky, 0o777)
	_ = os.Chmod(sticky, 0o777|os.ModeSticky)
	inSticky := writeScript(t, sticky, "s.sh", "#!/bin/sh\n", 0o755)
	if err := CheckSecure(Script{Argv: []string{inSticky}}); err != nil {
		t.Fatalf("root script in a sticky directory: %v", err)
	}
	// A symlink is judged by its target.
	link := filepath.Join(dir, "link.sh")
	_ = os.Symlink(worldW, link)
	if err := CheckSecure(Script{Argv: []string{link}}); !errors.Is(err, ErrInsecure) {
		t.Fatalf("symlink to a world-writable script: %v", err)
	}
}

func TestRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.RequireRoot(t)
	}
	cred, err := RunAs("nobody", "")
	if err != nil {
		testenv.Skip(t, "needs a user nobody: %v", err)
	}
	dir := t.TempDir()
	_ = os.Chmod(filepath.Dir(dir), 0o755) // t.TempDir's parent is 0700
	_ = os.Chmod(dir, 0o755)
	outDir := filepath.Join(dir, "out")
	_ = os.Mkdir(outDir, 0o777)
	_ = os.Chmod(outDir, 0o777)
	sh := writeScript(t, dir, "id.sh", "#!/bin/sh\nid -u > "+outDir+"/uid\n", 0o755)
	res, err := Run(context.Background(), Script{Argv: []string{sh}, Cred: cred}, 5*time.Second, time.Second)
	if err != nil || !res.OK() {
		t.Fatalf("run as nobody: %+v %v %s", res, err, res.Output)
	}
	got, _ := os.ReadFile(filepath.Join(outDir, "uid"))
	if strings.TrimSpace(string(got)) != strconv.Itoa(int(cred.Uid)) {
		t.Fatalf("script ran as uid %q, want %d", got, cred.Uid)
	}
}
