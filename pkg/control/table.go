package control

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable prints st as human-readable tables: one row per VRRP instance, then one row per
// real server of every virtual server.
func WriteTable(w io.Writer, st *Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSTATE\tVRID\tINTERFACE\tPRIO\tEFF\tMASTER\tVIPS\tTRANS\tDATAPLANE\tDROPS")
	for _, in := range st.VRRP {
		master := in.MasterIP
		if master == "" {
			master = "-"
		}
		vips := strings.Join(in.VIPs, ",")
		if vips == "" {
			vips = "-"
		}
		state := in.State
		if in.Fault != "" {
			state += " (" + in.Fault + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\t%d\t%s\t%d\n", in.Name, state, in.VRID,
			in.Interface, in.Priority, in.EffectivePriority, master, vips, in.Transitions, in.Dataplane, in.DropsTotal)
	}
	if len(st.VirtualServers) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "VIRTUAL SERVER\tPROTO\tREAL SERVER\tWEIGHT\tHEALTHY")
		for _, vs := range st.VirtualServers {
			name := "fwmark " + strconv.FormatUint(uint64(vs.FWMark), 10)
			if vs.FWMark == 0 {
				name = joinHostPort(vs.Address, vs.Port)
			}
			if len(vs.RealServers) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\n", name, vs.Protocol)
			}
			for _, rs := range vs.RealServers {
				h := "no"
				if rs.Healthy {
					h = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", name, vs.Protocol, joinHostPort(rs.Address, rs.Port), rs.Weight, h)
			}
		}
	}
	return tw.Flush()
}

func joinHostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		addr = "[" + addr + "]"
	}
	if port == 0 {
		return addr
	}
	return addr + ":" + strconv.Itoa(port)
}
