package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xalived/xalived/internal/testenv"
)

func TestVMOnly(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		src  string
		want bool
	}{
		"tagged":  {"//go:build vmtest\n\npackage x\n", true},
		"linux":   {"//go:build vmtest && linux\n\npackage x\n", true},
		"plain":   {"package x\n", false},
		"other":   {"//go:build linux\n\npackage x\n", false},
		"negated": {"//go:build !vmtest\n\npackage x\n", false},
		"comment": {"// Copyright\n\n//go:build vmtest\n\npackage x\n", true},
	} {
		p := filepath.Join(dir, name+"_test.go")
		if err := os.WriteFile(p, []byte(tc.src), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := vmOnly(p)
		if err != nil || got != tc.want {
			t.Errorf("%s: vmOnly = %v, %v; want %v", name, got, err, tc.want)
		}
	}
}

func TestTestFuncs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a_test.go")
	src := "package x\nimport \"testing\"\nfunc TestA(t *testing.T) {}\nfunc Testify() {}\nfunc TestMain(m *testing.M) {}\nfunc BenchmarkB(b *testing.B) {}\nfunc helper() {}\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tests, benches, err := testFuncs(p)
	if err != nil || len(tests) != 1 || tests[0] != "TestA" || len(benches) != 1 || benches[0] != "BenchmarkB" {
		t.Fatalf("testFuncs = %v %v %v", tests, benches, err)
	}
}

func TestSelectNames(t *testing.T) {
	names := []string{"TestA", "TestB", "TestAB"}
	for filter, want := range map[string]string{"": "^(TestA|TestB|TestAB)$", "B$": "^(TestB|TestAB)$", "Nothing": "^$"} {
		if got := selectNames(names, filter); got != want {
			t.Errorf("selectNames(%q) = %q, want %q", filter, got, want)
		}
	}
}

// TestArchive writes an initramfs and unpacks it with busybox cpio, as the kernel would.
func TestArchive(t *testing.T) {
	testenv.RequireCommand(t, "busybox")
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("payload\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := newArchive()
	a.bytes("init", []byte("#!/bin/sh\n"), 0o755)
	a.file("usr/lib/deep/file", src, 0o644)
	a.symlink("bin/sh", "busybox")
	img := filepath.Join(dir, "img.cpio")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out := filepath.Join(dir, "out")
	os.Mkdir(out, 0o755)
	cmd := exec.Command("sh", "-c", "busybox cpio -i -d < "+img)
	cmd.Dir = out
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v: %s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(out, "usr/lib/deep/file")); err != nil || string(b) != "payload\n" {
		t.Fatalf("file: %q %v", b, err)
	}
	if st, err := os.Stat(filepath.Join(out, "init")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("init: %v %v", st, err)
	}
	if l, err := os.Readlink(filepath.Join(out, "bin/sh")); err != nil || l != "busybox" {
		t.Fatalf("symlink: %q %v", l, err)
	}
}

// TestBenchEnv: the host's XALIVED_BENCH_* knobs reach the guest as export lines; other
// variables and values that are not plain words do not.
func TestBenchEnv(t *testing.T) {
	got := benchEnv([]string{"XALIVED_BENCH_RELOADS=7", "HOME=/root", "XALIVED_BENCH_X=a b", "XALIVED_BENCH_Y=$(id)", "XALIVED_BENCH_WINDOW=1.5s"})
	if want := "export XALIVED_BENCH_RELOADS=7\nexport XALIVED_BENCH_WINDOW=1.5s\n"; got != want {
		t.Fatalf("benchEnv: %q, want %q", got, want)
	}
}

// A package that declares only VM benchmarks has nothing to run in the test tier (no -bench), so
// it is neither compiled nor booted there; -bench selects it.
func TestBenchmarkOnlyPackageSelection(t *testing.T) {
	b := testBinary{vmPackage: vmPackage{ImportPath: "x/check", Benchmarks: []string{"BenchmarkVMCheckersVsKeepalived"}}}
	if b.selected(options{}) {
		t.Fatal("selected in the test tier")
	}
	if b.selected(options{run: "^$", bench: "Lvs"}) {
		t.Fatal("selected by a -bench that does not match it")
	}
	if run, bench := b.selection(options{run: "^$", bench: "."}); !b.selected(options{run: "^$", bench: "."}) || run != "^$" || bench != "^(BenchmarkVMCheckersVsKeepalived)$" {
		t.Fatalf("-bench .: run %q bench %q", run, bench)
	}
}
