package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Script is one command to run: its argument vector and the identity it runs as.
type Script struct {
	Argv []string
	// Cred, when set, is the user and group the script runs as; nil runs it as the daemon.
	Cred *syscall.Credential
}

// ParseScript splits a command line (see SplitCommand) into a Script running as the daemon.
func ParseScript(line string) (Script, error) {
	argv, err := SplitCommand(line)
	if err != nil {
		return Script{}, err
	}
	return Script{Argv: argv}, nil
}

// String renders the argument vector for logs.
func (s Script) String() string { return fmt.Sprint(s.Argv) }

// RunAs resolves a user name and an optional group name (default: the user's primary group) to a
// credential, as keepalived's `user USER [GROUP]` and `script_user USER [GROUP]` do.
func RunAs(userName, groupName string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("script user %q: %w", userName, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %q: uid %q: %w", userName, u.Uid, err)
	}
	gidStr := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("script group %q: %w", groupName, err)
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script group of %q: gid %q: %w", userName, gidStr, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// DefaultScriptUser returns keepalived's default script identity: "keepalived_script" when that
// user exists, otherwise nil (the daemon's own user).
func DefaultScriptUser() *syscall.Credential {
	c, err := RunAs("keepalived_script", "")
	if err != nil {
		return nil
	}
	return c
}

// ErrInsecure is returned by CheckSecure for a script that root would run although a non-root
// user can change it.
var ErrInsecure = errors.New("script is writable by a non-root user")

// CheckSecure applies enable_script_security to a script: when it would run as root (no
// credential and the daemon is root, or uid/gid 0), the file and every directory above it must be
// owned by root and not writable by group (unless the group is root) or others; a directory with
// the sticky bit may be group/world writable. Symlinks are resolved first. It returns nil for a
// script that does not run as root.
func CheckSecure(s Script) error {
	if len(s.Argv) == 0 {
		return ErrEmptyCommand
	}
	runsAsRoot := (s.Cred == nil && os.Geteuid() == 0) || (s.Cred != nil && (s.Cred.Uid == 0 || s.Cred.Gid == 0))
	if !runsAsRoot {
		return nil
	}
	path, err := exec.LookPath(s.Argv[0])
	if err != nil {
		return fmt.Errorf("script %s: %w", s.Argv[0], err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return fmt.Errorf("script %s: %w", s.Argv[0], err)
	}
	if path, err = filepath.EvalSymlinks(path); err != nil {
		return fmt.Errorf("script %s: %w", s.Argv[0], err)
	}
	for p := path; ; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return fmt.Errorf("script %s: stat %s: %w", s.Argv[0], p, err)
		}
		isDir := st.Mode&syscall.S_IFMT == syscall.S_IFDIR
		sticky := isDir && st.Mode&syscall.S_ISVTX != 0
		groupWritable := st.Gid != 0 && st.Mode&0o020 != 0
		worldWritable := st.Mode&0o002 != 0
		if st.Uid != 0 || (!sticky && (groupWritable || worldWritable)) {
			return fmt.Errorf("script %s: %s: %w", s.Argv[0], p, ErrInsecure)
		}
		if p == "/" {
			return nil
		}
	}
}

// Result is the outcome of one script run.
type Result struct {
	// ExitCode is the exit status, or -1 when the script was killed or could not start.
	ExitCode int
	// TimedOut is set when the timeout expired and the process group was signalled.
	TimedOut bool
	// Killed is set when SIGTERM was not enough and the group got SIGKILL.
	Killed   bool
	Duration time.Duration
	// Output holds the first bytes the script wrote to stdout and stderr (for logs).
	Output []byte
}

// OK reports whether the script exited 0 in time.
func (r Result) OK() bool { return r.ExitCode == 0 && !r.TimedOut }

// maxOutput bounds what Run keeps of a script's output.
const maxOutput = 4096

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}

// Run executes the script with extra arguments appended, in its own process group, and waits
// for it. When timeout (>0) passes or ctx ends, the process group gets SIGTERM, then SIGKILL
// after grace; Run returns only once the script has been reaped, so nothing outlives it except
// grandchildren that left the group. The error is non-nil only when the script could not start.
func Run(ctx context.Context, s Script, timeout, grace time.Duration, extra ...string) (Result, error) {
	if len(s.Argv) == 0 {
		return Result{ExitCode: -1}, ErrEmptyCommand
	}
	if grace <= 0 {
		grace = time.Second
	}
	argv := append(append([]string{}, s.Argv...), extra...)
	start := time.Now()
	cmd, out, err := startScript(argv, s.Cred)
	if err != nil {
		return Result{ExitCode: -1}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	res := Result{}
	var werr error
	select {
	case werr = <-done:
	case <-expired:
		res.TimedOut = true
	case <-ctx.Done():
		res.TimedOut = true
	}
	if res.TimedOut {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		g := time.NewTimer(grace)
		select {
		case werr = <-done:
			g.Stop()
		case <-g.C:
			res.Killed = true
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			werr = <-done
		}
		// Whatever else is left in the group goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	res.Duration = time.Since(start)
	res.Output = out.Bytes()
	res.ExitCode = exitCode(werr)
	if res.TimedOut {
		res.ExitCode = -1
	}
	return res, nil
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Exited() {
			return ws.ExitStatus()
		}
	}
	return -1
}

// startScript starts argv in a new process group, falling back to /bin/sh for a file the kernel
// refuses with ENOEXEC (no "#!" line), as execvp(3) does.
func startScript(argv []string, cred *syscall.Credential) (*exec.Cmd, *limitedBuffer, error) {
	mk := func(argv []string) (*exec.Cmd, *limitedBuffer) {
		cmd := exec.Command(argv[0], argv[1:]...)
		out := &limitedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		// No Pdeathsig: Linux ties it to the forking thread, and a Go thread can exit (a
		// goroutine that ends while locked to it, as netns switching does) long before the
		// daemon, which would kill healthy scripts. Run's context stops scripts at shutdown.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
		cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		return cmd, out
	}
	cmd, out := mk(argv)
	err := cmd.Start()
	if errors.Is(err, syscall.ENOEXEC) {
		path := argv[0]
		if p, lerr := exec.LookPath(path); lerr == nil {
			path = p
		}
		cmd, out = mk(append([]string{"/bin/sh", path}, argv[1:]...))
		err = cmd.Start()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	return cmd, out, nil
}
