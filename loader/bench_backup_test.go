package loader

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

const scaleInstances = 255

// keepalivedConf is 255 VRRPv3 instances on dev at the given priority, 10 ms adverts.
func keepalivedConf(dev string, prio int, state string, intervalCs int) string {
	var b strings.Builder
	b.WriteString("global_defs {\n\trouter_id xdp-bench\n\tvrrp_version 3\n}\n")
	for v := 1; v <= scaleInstances; v++ {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n\tstate %s\n\tinterface %s\n\tvirtual_router_id %d\n\tpriority %d\n\tadvert_int %.2f\n\tvirtual_ipaddress {\n\t\t203.0.113.%d/32\n\t}\n}\n",
			v, state, dev, v, prio, float64(intervalCs)/100, v)
	}
	return b.String()
}

// startKeepalived runs keepalived (VRRP only) in ns with conf; its output is kept in out.
func startKeepalived(b *testing.B, ns *nstest.NS, conf string) (parent int, vrrpPidFile string, out *bytes.Buffer) {
	b.Helper()
	dir := b.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	vrrpPidFile = filepath.Join(dir, "vrrp.pid")
	out = new(bytes.Buffer)
	cmd := ns.Cmd("keepalived", "-n", "-l", "-P", "-R", "-f", path, "-p", filepath.Join(dir, "k.pid"), "-r", vrrpPidFile)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(unix.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return cmd.Process.Pid, vrrpPidFile, out
}

// cpuTime is utime+stime of a process (all its threads) from /proc.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

func readPid(path string) int {
	b, _ := os.ReadFile(path)
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// BenchmarkBackupCPU: a keepalived master sends 255 instances x 100 adverts/s. The backup side
// runs, side by side on the same adverts in the same window: the XDP program validating every
// advert and keeping 255 kernel timers (its CPU from BPF run-time statistics; the daemon would
// sleep), attached in socket-path mode so that it passes the adverts on to Debian's keepalived
// running as the backup (user+system CPU of its processes from /proc). Spurious transitions:
// master-down expiries (XDP) and "Entering MASTER STATE" lines (keepalived) while the master
// runs. Also at 10 adverts/s: on a busy 2-core machine the keepalived master cannot keep
// 25,500 adverts/s going, and its stalls exceed the 36 ms master-down interval of both backups.
func BenchmarkBackupCPU(b *testing.B) {
	for _, iv := range []int{1, 10} {
		b.Run(fmt.Sprintf("%dper-s", 100/iv), func(b *testing.B) { benchBackupCPU(b, iv) })
	}
}

func benchBackupCPU(b *testing.B, intervalCs int) {
	testenv.RequireCommand(b, "keepalived")
	const window = 5 * time.Second
	stats, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		b.Fatal(err)
	}
	defer stats.Close()
	tp := newTopo(b)
	startKeepalived(b, tp.peer, keepalivedConf("vb", 200, "MASTER", intervalCs))
	d := tp.open(b, Options{Name: randName(), BPFFS: testBPFFS(b), SocketPath: true})
	b.Cleanup(func() { _ = d.Close() })
	var keys []InstanceKey
	for v := 1; v <= scaleInstances; v++ {
		in := Instance{Key: InstanceKey{Ifindex: uint32(tp.ifindex), Family: IPv4, VRID: uint8(v)}, Version: 3,
			Priority: 100, Interval: uint16(intervalCs), LocalAddr: netip.MustParseAddr("198.51.100.1"),
			VIPs: []netip.Addr{netip.AddrFrom4([4]byte{203, 0, 113, byte(v)})}, ReplyMAC: tp.vaMAC}
		if err := d.SetInstance(in); err != nil {
			b.Fatal(err)
		}
		if err := d.SetState(in.Key, StateBackup, 0); err != nil {
			b.Fatal(err)
		}
		keys = append(keys, in.Key)
	}
	parent, vrrpPid, out := startKeepalived(b, tp.us, keepalivedConf("va", 100, "BACKUP", intervalCs))
	time.Sleep(3 * time.Second) // the master's instances take over and settle
	child := readPid(vrrpPid)
	sum := func() (acc, down uint64) {
		for _, k := range keys {
			c, _ := d.Counters(k)
			acc += c.Adverts[0]
			down += c.MasterDown
		}
		return acc, down
	}

	var xdpCPU, kaCPU, adverts float64
	var xdpSpurious, kaSpurious uint64
	for i := 0; i < b.N; i++ {
		acc0, down0 := sum()
		trans0 := bytes.Count(out.Bytes(), []byte("Entering MASTER STATE"))
		c0 := cpuTime(parent) + cpuTime(child)
		_, ns := progCost(b, d.prog, func() { time.Sleep(window) })
		c1 := cpuTime(parent) + cpuTime(child)
		acc1, down1 := sum()
		runs := float64(acc1 - acc0)
		xdpCPU += float64(ns) * runs / float64(window)
		kaCPU += float64(c1-c0) / float64(window)
		adverts += runs / window.Seconds()
		xdpSpurious += down1 - down0
		kaSpurious += uint64(bytes.Count(out.Bytes(), []byte("Entering MASTER STATE")) - trans0)
	}
	var all Counters
	for _, k := range keys {
		c, _ := d.Counters(k)
		for r := range c.Adverts {
			all.Adverts[r] += c.Adverts[r]
		}
	}
	g, _ := d.GlobalCounters()
	b.Logf("adverts by reason %v, without an instance %v", all.Adverts, g.Adverts)
	n := float64(b.N)
	b.ReportMetric(adverts/n, "adverts/s")
	b.ReportMetric(100*xdpCPU/n, "xdp-cpu-%")
	b.ReportMetric(100*kaCPU/n, "keepalived-cpu-%")
	if xdpCPU > 0 {
		b.ReportMetric(kaCPU/xdpCPU, "keepalived/xdp")
	}
	b.ReportMetric(float64(xdpSpurious)/n, "xdp-spurious")
	b.ReportMetric(float64(kaSpurious)/n, "keepalived-spurious")
	b.ReportMetric(0, "ns/op")
}
