package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// defaultKernels are Debian's 6.1 (the oldest kernel xalived supports) and 6.12, cloud flavour:
// the same IPVS, netfilter and veth modules as the generic flavour, fewer drivers to probe at boot.
const defaultKernels = "linux-image-cloud-amd64,linux-image-6.12-cloud-amd64"

type options struct {
	kernels []string
	run     string
	bench   string
	pkgs    string
	cache   string
	timeout time.Duration
	mem     string
	cpus    int
	verbose bool
	root    string
	strict  bool
	accel   string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vmtest:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	kernels := flag.String("kernels", envOr("VMTEST_KERNELS", defaultKernels), "comma-separated Debian kernel packages (meta-packages are resolved); env VMTEST_KERNELS")
	flag.StringVar(&o.run, "run", envOr("VMTEST_RUN", ""), "only run VM tests matching this regexp (within the declared VM tests)")
	flag.StringVar(&o.bench, "bench", envOr("VMTEST_BENCH", ""), "also run VM benchmarks matching this regexp (go test -bench)")
	flag.StringVar(&o.pkgs, "pkgs", "./...", "package pattern to search for VM tests")
	flag.StringVar(&o.cache, "cache", "", "cache directory (default <module root>/vmtest/cache)")
	flag.DurationVar(&o.timeout, "timeout", 12*time.Minute, "limit for one guest run")
	flag.StringVar(&o.mem, "mem", "2048", "guest memory in MiB")
	flag.IntVar(&o.cpus, "smp", 2, "guest CPUs")
	flag.StringVar(&o.accel, "accel", envOr("VMTEST_ACCEL", "tcg"), "tcg, kvm, or auto (kvm when /dev/kvm can create a VM: on some hosts it can and then hangs, hence tcg by default); env VMTEST_ACCEL")
	flag.BoolVar(&o.verbose, "v", true, "run the guest tests with -test.v")
	flag.Parse()
	for _, k := range strings.Split(*kernels, ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.kernels = append(o.kernels, k)
		}
	}
	if len(o.kernels) == 0 {
		return errors.New("no kernels given")
	}
	o.strict = os.Getenv("XALIVED_STRICT") == "1"
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	o.root = root
	if o.cache == "" {
		o.cache = filepath.Join(root, "vmtest", "cache")
	}
	if err := os.MkdirAll(o.cache, 0o755); err != nil {
		return err
	}
	// The go command must never walk thousands of unpacked kernel files: a go.mod makes the cache
	// a module of its own, which ./... patterns skip.
	if err := os.WriteFile(filepath.Join(o.cache, "go.mod"), []byte("module vmtestcache\n"), 0o644); err != nil {
		return err
	}
	if err := ensureTools(root); err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	t0 := time.Now()
	pkgs, err := discover(ctx, root, o.pkgs)
	if err != nil {
		return err
	}
	if len(pkgs) == 0 {
		return errors.New("no VM tests found (files with //go:build vmtest): refusing to pass without running anything")
	}
	// Only packages with something selected are compiled: a package that declares VM benchmarks
	// alone costs the test tier (no -bench) nothing.
	var sel []vmPackage
	for _, p := range pkgs {
		if (testBinary{vmPackage: p}).selected(o) {
			sel = append(sel, p)
		}
	}
	nsel := len(sel)
	if nsel == 0 {
		return fmt.Errorf("-run %q -bench %q select none of the VM tests", o.run, o.bench)
	}
	bins, err := compileTests(ctx, root, filepath.Join(o.cache, "tests"), sel)
	if err != nil {
		return err
	}
	fmt.Printf("vmtest: %d package(s) with VM tests compiled in %.1fs\n", len(bins), time.Since(t0).Seconds())

	var failed []string
	for _, k := range o.kernels {
		kt := time.Now()
		kern, err := fetchKernel(ctx, o.cache, k)
		if err != nil {
			return err
		}
		img, err := buildInitramfs(o, kern, bins)
		if err != nil {
			return fmt.Errorf("initramfs for %s: %w", kern.Release, err)
		}
		prep := time.Since(kt)
		res, err := boot(ctx, o, kern, img, nsel)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", kern.Release, err))
			continue
		}
		fmt.Printf("vmtest: kernel %s: boot to first test %.1fs, whole run %.1fs (incl. %.1fs preparing)\n",
			kern.Release, res.firstTest.Seconds(), time.Since(kt).Seconds(), prep.Seconds())
		for _, r := range res.results {
			if r.rc != 0 {
				failed = append(failed, fmt.Sprintf("%s: %s exit %d", kern.Release, r.pkg, r.rc))
			}
		}
	}
	fmt.Printf("vmtest: %d kernel(s) in %.1fs\n", len(o.kernels), time.Since(t0).Seconds())
	if len(failed) > 0 {
		return fmt.Errorf("FAIL:\n  %s", strings.Join(failed, "\n  "))
	}
	fmt.Println("vmtest: PASS")
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run vmtest inside the xalived module")
	}
	return filepath.Dir(mod), nil
}

// ensureTools installs the Debian packages vmtest needs when any tool is missing.
func ensureTools(root string) error {
	need := []string{"qemu-system-x86_64", "busybox", "xz", "ipvsadm", "keepalived", "dpkg-deb", "apt-get", "ip"}
	var missing []string
	for _, n := range need {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if _, err := os.Stat(qbootROM); err != nil {
		missing = append(missing, qbootROM)
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Printf("vmtest: missing %s: running scripts/install-deps.sh\n", strings.Join(missing, ", "))
	cmd := exec.Command(filepath.Join(root, "scripts", "install-deps.sh"))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("install-deps: %w", err)
	}
	return nil
}
