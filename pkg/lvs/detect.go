package lvs

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ErrNoIPVS means the running kernel has no IPVS (not built, or the module cannot be loaded).
// Errors wrapping it say what is missing and how to get it; a daemon logs it once and goes on
// with VRRP.
var ErrNoIPVS = errors.New("kernel has no IPVS")

// Detect reports whether IPVS is usable in the network namespace at nsPath ("" for the
// caller's). When the ip_vs module is not loaded it tries `modprobe ip_vs` once.
func Detect(nsPath string) error {
	present := func() bool { return procIPVS(nsPath) == nil }
	if present() {
		return nil
	}
	var mp string
	if _, err := exec.LookPath("modprobe"); err == nil {
		out, err := exec.Command("modprobe", "ip_vs").CombinedOutput()
		if err == nil && present() {
			return nil
		}
		mp = fmt.Sprintf("modprobe ip_vs: %v %s", err, strings.TrimSpace(string(out)))
	} else {
		mp = "no modprobe to load ip_vs"
	}
	rel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Errorf("%w: kernel %s has no /proc/net/ip_vs (%s); build it with CONFIG_IP_VS=m or =y "+
		"and the schedulers you use (CONFIG_IP_VS_RR, ..._WLC, ...), or install the kernel's modules "+
		"package and load ip_vs", ErrNoIPVS, strings.TrimSpace(string(rel)), mp)
}

// procIPVS checks /proc/net/ip_vs. IPVS is one module for every namespace: when it is loaded,
// each namespace has its own table, so the caller's namespace answers for all.
func procIPVS(string) error {
	_, err := os.Stat("/proc/net/ip_vs")
	return err
}
