//go:build vmtest

package lvs

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/moby/ipvs"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// schedulers keepalived accepts; the guest kernel may lack some (twos before 6.2).
var allSchedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh", "fo", "ovf", "twos"}

func nsPath(ns *nstest.NS) string { return "/run/netns/" + ns.Name }

// newDirector creates a namespace with its own IPVS table and a reconciler for it.
func newDirector(t *testing.T, opts Options) (*nstest.NS, *Reconciler) {
	t.Helper()
	vmenv.Require(t, "ip_vs")
	ns := nstest.New(t, "lvs")
	opts.NetNS = nsPath(ns)
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return ns, r
}

// mobyRead reads the table of ns through moby/ipvs directly (not through the package under test).
func mobyRead(t *testing.T, ns *nstest.NS) map[string]*ipvs.Destination {
	t.Helper()
	h, err := ipvs.New(nsPath(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	svcs, err := h.GetServices()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ipvs.Destination{}
	for _, s := range svcs {
		ds, err := h.GetDestinations(s)
		if err != nil {
			t.Fatal(err)
		}
		sk := fromMoby(s).Key.String()
		out[sk] = nil
		for _, d := range ds {
			out[fmt.Sprintf("%s -> %s", sk, net.JoinHostPort(d.Address.String(), fmt.Sprint(d.Port)))] = d
		}
	}
	return out
}

var ipvsadmSvc = regexp.MustCompile(`^(TCP|UDP|SCTP|FWM)\s+(\S+)\s+(\S+)`)

// ipvsadmList parses `ipvsadm -Ln` in ns into lines "SVC sched [flags]" and "SVC -> RS fwd weight".
func ipvsadmList(t *testing.T, ns *nstest.NS) []string {
	t.Helper()
	out := ns.MustRun(t, "ipvsadm", "-Ln")
	var lines []string
	svc := ""
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		switch {
		case ipvsadmSvc.MatchString(l):
			svc = f[0] + " " + f[1]
			lines = append(lines, svc+" "+strings.Join(f[2:], " "))
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			lines = append(lines, fmt.Sprintf("%s -> %s %s %s", svc, f[1], f[2], f[3]))
		}
	}
	sort.Strings(lines)
	return lines
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFile(t *testing.T, path string, timeout time.Duration) {
	t.Helper()
	nstest.WaitFor(t, timeout, path, func() bool { _, err := os.Stat(path); return err == nil })
}
