//go:build vmtest

package lvs

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/vmtest/vmenv"
)

// TestVMSyncDaemons starts, lists and stops IPVS sync threads and checks them with ipvsadm.
func TestVMSyncDaemons(t *testing.T) {
	vmenv.Require(t, "ip_vs")
	testenv.RequireCommand(t, "ipvsadm")
	a := nstest.New(t, "sync")
	b := nstest.New(t, "syncb")
	nstest.Veth(t, a, "sy0", b, "sy1")
	a.MustRun(t, "ip", "addr", "add", "198.51.100.1/24", "dev", "sy0")
	a.MustRun(t, "ip", "link", "set", "sy0", "up")
	p := nsPath(a)
	master := SyncDaemon{Master: true, Interface: "sy0", SyncID: 7, Port: 8849, TTL: 2,
		Group: netip.MustParseAddr("224.0.0.82"), MaxLen: 1400}
	if err := StartSyncDaemon(p, master); err != nil {
		t.Fatal(err)
	}
	if err := StartSyncDaemon(p, master); err != nil {
		t.Fatalf("second start: %v", err)
	}
	backup := SyncDaemon{Interface: "sy0", SyncID: 7}
	if err := StartSyncDaemon(p, backup); err != nil {
		t.Fatal(err)
	}
	ds, err := SyncDaemons(p)
	if err != nil {
		t.Fatal(err)
	}
	var gotMaster, gotBackup bool
	for _, d := range ds {
		if d.Master && d.Interface == "sy0" && d.SyncID == 7 && d.Port == 8849 && d.TTL == 2 &&
			d.Group == master.Group && d.MaxLen == 1400 {
			gotMaster = true
		}
		if !d.Master && d.Interface == "sy0" && d.SyncID == 7 {
			gotBackup = true
		}
	}
	if !gotMaster || !gotBackup {
		t.Fatalf("sync daemons %+v: want master and backup on sy0 with syncid 7", ds)
	}
	out := a.MustRun(t, "ipvsadm", "-L", "--daemon")
	if !strings.Contains(out, "master sync daemon (mcast=sy0, syncid=7") ||
		!strings.Contains(out, "backup sync daemon (mcast=sy0, syncid=7") {
		t.Fatalf("ipvsadm --daemon:\n%s", out)
	}
	if err := StopSyncDaemon(p, true); err != nil {
		t.Fatal(err)
	}
	if err := StopSyncDaemon(p, true); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	out = a.MustRun(t, "ipvsadm", "-L", "--daemon")
	if strings.Contains(out, "master sync daemon") || !strings.Contains(out, "backup sync daemon") {
		t.Fatalf("after stopping the master, ipvsadm --daemon:\n%s", out)
	}
	if err := StopSyncDaemon(p, false); err != nil {
		t.Fatal(err)
	}
	if ds, err := SyncDaemons(p); err != nil || len(ds) != 0 {
		t.Fatalf("after stopping both: %+v, %v", ds, err)
	}
	if err := StartSyncDaemon(p, SyncDaemon{Master: true, Interface: "nosuch0"}); err == nil {
		t.Fatal("a sync daemon on a missing interface was accepted")
	}
}
