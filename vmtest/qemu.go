package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const qbootROM = "/usr/share/qemu/qboot.rom"

type binResult struct {
	pkg string
	rc  int
}

type bootResult struct {
	firstTest time.Duration // qemu start to the guest's READY line
	results   []binResult
}

// kvmUsable reports whether /dev/kvm can create a VM (it may exist and still refuse).
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	const kvmCreateVM = 0xAE01
	fd, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return false
	}
	syscall.Close(int(fd))
	return true
}

// boot runs one guest, streams its console to stdout and collects the result lines.
func boot(ctx context.Context, o options, k *kernel, initrd string, wantBins int) (*bootResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	args := []string{
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-serial", "stdio", "-monitor", "none",
		"-m", o.mem, "-smp", strconv.Itoa(o.cpus),
		"-kernel", k.Vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1 mitigations=off nokaslr random.trust_cpu=on",
	}
	if _, err := os.Stat(qbootROM); err == nil {
		args = append(args, "-bios", qbootROM)
	}
	if o.accel == "kvm" || (o.accel == "auto" && kvmUsable()) {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg,thread=multi", "-cpu", "max")
	}
	fmt.Printf("vmtest: booting %s (%s)\n", k.Release, k.Package)
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.Stdin = nil
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	res := &bootResult{}
	exit := -1
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		fmt.Printf("[%s] %s\n", shortRelease(k.Release), line)
		f := strings.Fields(line)
		switch {
		case len(f) >= 1 && f[0] == "VMTEST-READY":
			res.firstTest = time.Since(start)
		case len(f) == 3 && f[0] == "VMTEST-RESULT":
			rc, _ := strconv.Atoi(f[2])
			res.results = append(res.results, binResult{pkg: f[1], rc: rc})
		case len(f) == 2 && f[0] == "VMTEST-EXIT":
			exit, _ = strconv.Atoi(f[1])
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return res, fmt.Errorf("guest did not finish within %v", o.timeout)
	}
	if werr != nil {
		return res, fmt.Errorf("qemu: %w", werr)
	}
	if exit < 0 {
		return res, fmt.Errorf("guest ended without a VMTEST-EXIT line (kernel panic or init failure)")
	}
	if len(res.results) != wantBins {
		return res, fmt.Errorf("guest reported %d of %d test binaries", len(res.results), wantBins)
	}
	return res, nil
}

func shortRelease(r string) string {
	if i := strings.Index(r, "-"); i > 0 {
		return r[:i]
	}
	return r
}
