package tests

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Inst describes one vrrp_instance; the same text configures xalived and keepalived.
type Inst struct {
	Name         string
	Interface    string // default eth0
	State        string // MASTER or BACKUP (default BACKUP)
	VRID         int
	Priority     int
	AdvertInt    string // e.g. "1", "0.1"
	Version      int    // 2 or 3; 0 = global default
	VIPs         []string
	Unicast      bool   // unicast_peer to every other node, unicast_src_ip = own address
	IPv6         bool   // adverts over IPv6 (mcast_src_ip/unicast_src_ip from IPv6)
	AuthPass     string // auth_type PASS (v2 only)
	VMAC         bool
	Nopreempt    bool
	PreemptDelay int
	TrackIfs     []string
	TrackScripts []string
	Notify       string // generic notify script path
	Extra        string // raw lines added inside the block
}

// Conf is a whole keepalived.conf.
type Conf struct {
	RouterID   string
	NotifyFIFO string
	Scripts    []Script
	Groups     []Group
	Insts      []Inst
	Extra      string // raw text appended at the top level
	Global     string // raw lines added inside global_defs
	Pre        string // raw text before the instances (trackers must be defined before use)
}

// Script is a vrrp_script.
type Script struct {
	Name, Cmd   string
	Interval    int
	Weight      int
	Fall, Rise  int
	WeightGiven bool
}

// Group is a vrrp_sync_group.
type Group struct {
	Name    string
	Members []string
}

// Render writes the configuration for node self of the lab's nodes (peers are the others).
func (c Conf) Render(self *Node, peers []*Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  enable_script_security\n  script_user root\n", c.RouterID)
	if c.NotifyFIFO != "" {
		fmt.Fprintf(&b, "  notify_fifo %s\n", c.NotifyFIFO)
	}
	b.WriteString(c.Global)
	b.WriteString("}\n\n")
	for _, s := range c.Scripts {
		fmt.Fprintf(&b, "vrrp_script %s {\n  script \"%s\"\n  interval %d\n", s.Name, s.Cmd, max(s.Interval, 1))
		if s.WeightGiven {
			fmt.Fprintf(&b, "  weight %d\n", s.Weight)
		}
		if s.Fall > 0 {
			fmt.Fprintf(&b, "  fall %d\n", s.Fall)
		}
		if s.Rise > 0 {
			fmt.Fprintf(&b, "  rise %d\n", s.Rise)
		}
		b.WriteString("}\n\n")
	}
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "vrrp_sync_group %s {\n  group {\n", g.Name)
		for _, m := range g.Members {
			fmt.Fprintf(&b, "    %s\n", m)
		}
		b.WriteString("  }\n}\n\n")
	}
	b.WriteString(c.Pre)
	for _, in := range c.Insts {
		ifc := in.Interface
		if ifc == "" {
			ifc = "eth0"
		}
		state := in.State
		if state == "" {
			state = "BACKUP"
		}
		fmt.Fprintf(&b, "vrrp_instance %s {\n  state %s\n  interface %s\n  virtual_router_id %d\n  priority %d\n",
			in.Name, state, ifc, in.VRID, in.Priority)
		if in.AdvertInt != "" {
			fmt.Fprintf(&b, "  advert_int %s\n", in.AdvertInt)
		}
		if in.Version != 0 {
			fmt.Fprintf(&b, "  version %d\n", in.Version)
		}
		if in.Nopreempt {
			b.WriteString("  nopreempt\n")
		}
		if in.PreemptDelay > 0 {
			fmt.Fprintf(&b, "  preempt_delay %d\n", in.PreemptDelay)
		}
		if in.VMAC {
			b.WriteString("  use_vmac\n")
		}
		if in.AuthPass != "" {
			fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", in.AuthPass)
		}
		own := self.IPv4
		if in.IPv6 {
			own = self.IPv6
		}
		if in.Unicast {
			fmt.Fprintf(&b, "  unicast_src_ip %s\n  unicast_peer {\n", own)
			for _, p := range peers {
				if in.IPv6 {
					fmt.Fprintf(&b, "    %s\n", p.IPv6)
				} else {
					fmt.Fprintf(&b, "    %s\n", p.IPv4)
				}
			}
			b.WriteString("  }\n")
		}
		if len(in.TrackIfs) > 0 {
			b.WriteString("  track_interface {\n")
			for _, t := range in.TrackIfs {
				fmt.Fprintf(&b, "    %s\n", t)
			}
			b.WriteString("  }\n")
		}
		if len(in.TrackScripts) > 0 {
			b.WriteString("  track_script {\n")
			for _, t := range in.TrackScripts {
				fmt.Fprintf(&b, "    %s\n", t)
			}
			b.WriteString("  }\n")
		}
		if in.Notify != "" {
			fmt.Fprintf(&b, "  notify %s\n", in.Notify)
		}
		b.WriteString("  virtual_ipaddress {\n")
		for _, v := range in.VIPs {
			fmt.Fprintf(&b, "    %s\n", v)
		}
		b.WriteString("  }\n")
		b.WriteString(in.Extra)
		b.WriteString("}\n\n")
	}
	b.WriteString(c.Extra)
	return b.String()
}

// others returns the lab's nodes except n.
func (l *Lab) others(n *Node) []*Node {
	var ps []*Node
	for _, p := range l.Nodes {
		if p != n {
			ps = append(ps, p)
		}
	}
	return ps
}

// kinds of speaker pairs: first letter is node 1 (the initial master), second node 2.
var pairKinds = []string{"xx", "xk", "kx"}

// kindsFor returns def, or the pairings listed in XALIVED_INTEROP_KINDS (e.g. "kk" runs every
// scenario with keepalived alone, to check the harness against the reference implementation).
func kindsFor(def []string) []string {
	if env := os.Getenv("XALIVED_INTEROP_KINDS"); env != "" {
		return strings.Split(env, ",")
	}
	return def
}

// newSpeaker: 'k' keepalived, 'X' xalived on XDP, otherwise xalived on the socket dataplane.
func newSpeaker(t testing.TB, kind byte, n *Node) Speaker {
	t.Helper()
	switch kind {
	case 'k':
		return NewKeepalived(t, n)
	case 'X':
		return xdpSpeaker(t, n)
	}
	return NewXalived(t, n)
}

// fastInst is a v3 IPv4 instance at 0.1 s.
func fastInst(prio int) Inst {
	return Inst{Name: "VI_1", VRID: 51, Priority: prio, AdvertInt: "0.1", Version: 3,
		VIPs: []string{"198.51.100.100/24"}}
}

const vip4 = "198.51.100.100"
