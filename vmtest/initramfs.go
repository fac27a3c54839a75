package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

//go:embed init.sh
var initScript []byte

// guestPrograms are host programs copied into the guest with their shared libraries: iproute2
// for network namespaces (busybox's ip has no netns) and ipvsadm to read IPVS back as users do.
// benchPrograms join them when benchmarks run: Debian's keepalived (with its 30 libraries) is the
// baseline, and the test tier boots faster without it.
var (
	guestPrograms = []string{"ip", "ipvsadm"}
	benchPrograms = []string{"keepalived"}
)

// buildInitramfs writes the initramfs for one kernel and returns its path.
func buildInitramfs(o options, k *kernel, bins []testBinary) (string, error) {
	a := newArchive()
	a.bytes("init", initScript, 0o755)
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return "", err
	}
	a.file("bin/busybox", busybox, 0o755)
	a.symlink("bin/sh", "busybox")
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "root", "etc/keepalived"} {
		a.dir(d)
	}
	a.bytes("etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"), 0o644)
	a.bytes("etc/group", []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	a.bytes("etc/hosts", []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644)

	progs := guestPrograms
	if o.bench != "" {
		progs = append(progs, benchPrograms...)
	}
	for _, p := range progs {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w (make deps installs it)", p, err)
		}
		a.file("usr/sbin/"+p, path, 0o755)
		libs, err := sharedLibs(path)
		if err != nil {
			return "", err
		}
		for _, l := range libs {
			a.file(l, l, 0o755)
		}
	}

	mods, err := resolveModules(k, filepath.Join(o.cache, "modules", k.Release))
	if err != nil {
		return "", err
	}
	// Modules live where modprobe looks, with a modules.dep naming them, so that programs which
	// run `modprobe ip_vs` (moby/ipvs does) find it loaded instead of failing noisily.
	var list, dep strings.Builder
	for _, m := range mods {
		name := "lib/modules/" + k.Release + "/" + filepath.Base(m)
		a.file(name, m, 0o644)
		fmt.Fprintf(&list, "/%s\n", name)
		fmt.Fprintf(&dep, "%s:\n", filepath.Base(m))
	}
	a.bytes("etc/vmtest/modules", []byte(list.String()), 0o644)
	a.bytes("lib/modules/"+k.Release+"/modules.dep", []byte(dep.String()), 0o644)

	var tests strings.Builder
	for _, b := range bins {
		if !b.selected(o) {
			continue
		}
		a.file("tests/"+b.Name, b.Path, 0o755)
		dir := "/src/" + b.ImportPath
		a.dir(dir)
		if td := filepath.Join(b.Dir, "testdata"); isDir(td) {
			if err := addTree(a, td, dir+"/testdata"); err != nil {
				return "", err
			}
		}
		run, bench := b.selection(o)
		fmt.Fprintf(&tests, "%s;%s;%s;%s\n", b.Name, dir, run, bench)
	}
	a.bytes("etc/vmtest/tests", []byte(tests.String()), 0o644)

	env := fmt.Sprintf("export XALIVED_VMTEST=1 XALIVED_STRICT=%s VMTEST_VERBOSE=%s\n", boolStr(o.strict), boolStr(o.verbose))
	env += benchEnv(os.Environ())
	a.bytes("etc/vmtest/env", []byte(env), 0o644)

	out := filepath.Join(o.cache, "initramfs-"+k.Release+".cpio")
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if err := a.write(f); err != nil {
		f.Close()
		return "", err
	}
	return out, f.Close()
}

// selection returns the -test.run and -test.bench expressions for one binary.
func (b testBinary) selection(o options) (run, bench string) {
	run = selectNames(b.Tests, o.run)
	if o.bench != "" {
		if bench = selectNames(b.Benchmarks, o.bench); bench == "^$" {
			bench = ""
		}
	}
	return run, bench
}

// selected reports whether the binary has anything to run under the -run and -bench filters.
func (b testBinary) selected(o options) bool {
	run, bench := b.selection(o)
	return run != "^$" || bench != ""
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return ""
}

// selectNames builds an anchored -test.run/-test.bench expression from the declared VM functions,
// keeping those that match filter (when set). Nothing selected gives "^$", which runs nothing.
func selectNames(names []string, filter string) string {
	var re *regexp.Regexp
	if filter != "" {
		re = regexp.MustCompile(filter)
	}
	var keep []string
	for _, n := range names {
		if re == nil || re.MatchString(n) {
			keep = append(keep, regexp.QuoteMeta(n))
		}
	}
	if len(keep) == 0 {
		return "^$"
	}
	return "^(" + strings.Join(keep, "|") + ")$"
}

var lddLine = regexp.MustCompile(`(?m)(?:=>\s*)?(/\S+)\s+\(0x`)

// sharedLibs lists the shared libraries (and the dynamic loader) a program needs, from ldd.
func sharedLibs(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", path, err)
	}
	var libs []string
	for _, m := range lddLine.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	return libs, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func addTree(a *archive, src, dst string) error {
	return filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir():
			a.dir(target)
		case info.Mode().IsRegular():
			a.file(target, p, uint32(info.Mode().Perm()))
		}
		return nil
	})
}

// benchEnv passes the host's XALIVED_BENCH_* knobs (run counts, windows) on to the guest's tests,
// as export lines; values other than plain words are left out.
func benchEnv(environ []string) string {
	var b strings.Builder
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "XALIVED_BENCH_") || !plainWord(k) || !plainWord(v) {
			continue
		}
		fmt.Fprintf(&b, "export %s=%s\n", k, v)
	}
	return b.String()
}

func plainWord(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c == ',' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
