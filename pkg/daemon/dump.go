package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/xalived/xalived/pkg/control"
)

type dumpKind string

const (
	dumpData  dumpKind = "data"
	dumpStats dumpKind = "stats"
)

// writeDump writes the SIGUSR1 (data) or SIGUSR2 (stats) dump and logs where.
func (d *Daemon) writeDump(kind dumpKind) {
	e := d.engine()
	if e == nil {
		return
	}
	path := d.dumpPath(kind)
	f, err := os.CreateTemp(filepath.Dir(path), ".xalived-dump-*")
	if err != nil {
		d.log.Error("dump", "kind", string(kind), "err", err)
		return
	}
	st := e.Status()
	switch kind {
	case dumpData:
		err = writeDataDump(f, &st, time.Now())
	case dumpStats:
		err = writeStatsDump(f, &st, e.Stats(), time.Now())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		d.log.Error("dump", "kind", string(kind), "err", err)
		return
	}
	d.log.Info("dump written", "kind", string(kind), "path", path)
}

// writeDataDump prints the state of every instance and virtual server, one "key = value" a line
// per block, in the spirit of keepalived.data (whose format keepalived itself calls unstable).
func writeDataDump(w io.Writer, st *control.Status, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "------< xalived data dump %s >------\n\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, " Config file = %s\n PID = %d\n\n------< VRRP Topology >------\n", st.ConfigFile, st.PID)
	for _, in := range st.VRRP {
		fmt.Fprintf(&b, " VRRP Instance = %s\n", in.Name)
		fmt.Fprintf(&b, "   State = %s\n", in.State)
		if in.Fault != "" {
			fmt.Fprintf(&b, "   Fault = %s\n", in.Fault)
		}
		fmt.Fprintf(&b, "   Virtual Router ID = %d\n   Interface = %s\n   Version = %d\n", in.VRID, in.Interface, in.Version)
		fmt.Fprintf(&b, "   Priority = %d\n   Effective priority = %d\n", in.Priority, in.EffectivePriority)
		fmt.Fprintf(&b, "   Master IP = %s\n   Transitions = %d\n   Dataplane = %s\n", in.MasterIP, in.Transitions, in.Dataplane)
		fmt.Fprintf(&b, "   Virtual IP = %d\n", len(in.VIPs))
		for _, v := range in.VIPs {
			fmt.Fprintf(&b, "     %s\n", v)
		}
	}
	for _, g := range st.SyncGroups {
		fmt.Fprintf(&b, " VRRP Sync Group = %s, %s\n", g.Name, g.State)
		for _, m := range g.Members {
			fmt.Fprintf(&b, "   monitor = %s\n", m)
		}
	}
	if len(st.VirtualServers) > 0 {
		b.WriteString("\n------< LVS Topology >------\n")
		for _, vs := range st.VirtualServers {
			if vs.FWMark != 0 {
				fmt.Fprintf(&b, " VS = FWM %d %s\n", vs.FWMark, vs.Protocol)
			} else {
				fmt.Fprintf(&b, " VS = %s %s\n", joinHP(vs.Address, vs.Port), vs.Protocol)
			}
			for _, rs := range vs.RealServers {
				fmt.Fprintf(&b, "   RS = %s, weight = %d, alive = %v\n", joinHP(rs.Address, rs.Port), rs.Weight, rs.Healthy)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeStatsDump prints per-instance advert counters and drop reasons (keepalived.stats), then
// the engine's statistics document as JSON.
func writeStatsDump(w io.Writer, st *control.Status, extra any, now time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "------< xalived stats dump %s >------\n", now.UTC().Format(time.RFC3339))
	for _, in := range st.VRRP {
		fmt.Fprintf(&b, "VRRP Instance: %s\n  Advertisements:\n    Received: %d\n    Sent: %d\n  Became master: %d transitions\n  Packet errors: %d\n",
			in.Name, in.AdvertsRx, in.AdvertsTx, in.Transitions, in.DropsTotal)
		keys := make([]string, 0, len(in.Drops))
		for k := range in.Drops {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "    %s: %d\n", k, in.Drops[k])
		}
	}
	if extra != nil {
		raw, err := json.MarshalIndent(extra, "", "  ")
		if err == nil {
			fmt.Fprintf(&b, "\n%s\n", raw)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinHP(addr string, port int) string {
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s:%d", addr, port)
}
