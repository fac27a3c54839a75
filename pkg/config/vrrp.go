package config

import (
	"strconv"
	"strings"
)

func (p *parser) vrrpScript(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	v := &VRRPScript{Pos: s.pos, Name: nm, Interval: Seconds(1), Rise: 1, Fall: 1}
	timeoutSet := false
	var userPos Pos
	p.body(table{
		"script": {fn: func(p *parser, s stmt) { v.Script = p.scriptLine(s) }},
		"interval": {fn: func(p *parser, s stmt) {
			// 2.2.7 accepts whole seconds only.
			if n, ok := p.intArg(s, 1, 1<<31/1000000); ok {
				v.Interval = Seconds(float64(n))
			}
		}},
		"timeout": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 1<<31/1000000); ok {
				v.Timeout = Seconds(float64(n))
				timeoutSet = true
			}
		}},
		"weight": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, -253, 253); ok {
				v.Weight = n
			}
			if len(s.words) > 2 {
				if s.words[2] == "reverse" {
					v.Reverse = true
				} else {
					p.errorf(s.pos, "unknown weight option '%s'", s.words[2])
				}
			}
		}},
		"rise": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 1<<31-1); ok {
				v.Rise = n
			}
		}},
		"fall": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 1<<31-1); ok {
				v.Fall = n
			}
		}},
		"user": {fn: func(p *parser, s stmt) {
			if u, ok := p.str(s); ok {
				v.User = u
				if len(s.words) > 2 {
					v.Group = s.words[2]
				}
				userPos = s.pos
			}
		}},
		"init_fail": {fn: func(p *parser, s stmt) { v.InitFail = true }},
	}, false)
	closePos := p.lastClose
	if !timeoutSet {
		v.Timeout = v.Interval
	}
	if v.Script == nil {
		p.errorf(closePos, "no script set for vrrp_script %s - removing", nm)
		return
	}
	if p.opts.HostChecks && !p.scriptUserOK(v, userPos, closePos) {
		return
	}
	if nm != "" {
		p.cfg.Scripts = append(p.cfg.Scripts, v)
	}
}

func (p *parser) trackFile(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	t := &TrackFile{Pos: s.pos, Name: nm, Weight: 1}
	p.body(table{
		"file": {fn: func(p *parser, s stmt) { t.File, _ = p.str(s) }},
		"weight": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, -254, 254); ok {
				t.Weight = n
			}
			if len(s.words) > 2 && s.words[2] == "reverse" {
				t.Reverse = true
			}
		}},
		"init_file": {fn: func(p *parser, s stmt) {
			t.InitFile = true
			for _, a := range s.args() {
				if a == "overwrite" {
					t.Overwrite = true
				} else if n, err := strconv.Atoi(a); err == nil {
					t.InitValue = n
				} else {
					p.errorf(s.pos, "invalid init_file option '%s'", a)
				}
			}
		}},
	}, false)
	if t.File == "" {
		p.errorf(s.pos, "track_file %s: no file specified - ignoring", nm)
		return
	}
	if nm != "" {
		p.cfg.TrackFiles = append(p.cfg.TrackFiles, t)
	}
}

func (p *parser) trackProcess(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	t := &TrackProcess{Pos: s.pos, Name: nm, Quorum: 1, Weight: 0}
	p.body(table{
		"process": {fn: func(p *parser, s stmt) {
			if t.Process != "" && len(s.words) > 1 {
				p.errorf(s.pos, "process already set for track process %s - ignoring %s", nm, s.words[1])
				return
			}
			if p.need(s, 1) {
				t.Process = s.words[1]
				t.Args = append([]string(nil), s.words[2:]...)
			}
		}},
		"param_match": {fn: func(p *parser, s stmt) {
			if v, ok := p.str(s); ok {
				if v != "initial" && v != "partial" {
					p.errorf(s.pos, "invalid param_match '%s'", v)
				}
				t.ParamMatch = v
			}
		}},
		"weight": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, -254, 254); ok {
				t.Weight = n
			}
			if len(s.words) > 2 && s.words[2] == "reverse" {
				t.Reverse = true
			}
		}},
		"quorum": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 65535); ok {
				t.Quorum = n
			}
		}},
		"quorum_max": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 65535); ok {
				t.QuorumMax = n
			}
		}},
		"fork_delay":      {fn: func(p *parser, s stmt) { t.ForkDelay, _ = p.secArg(s, 0, 65535) }},
		"terminate_delay": {fn: func(p *parser, s stmt) { t.TerminateDelay, _ = p.secArg(s, 0, 65535) }},
		"delay": {fn: func(p *parser, s stmt) {
			if d, ok := p.secArg(s, 0, 65535); ok {
				t.ForkDelay, t.TerminateDelay = d, d
			}
		}},
		"full_command": {fn: func(p *parser, s stmt) { t.FullCommand = true }},
	}, false)
	if t.Process == "" {
		p.errorf(s.pos, "track_process %s: no process specified - ignoring", nm)
		return
	}
	if nm != "" {
		p.cfg.TrackProcesses = append(p.cfg.TrackProcesses, t)
	}
}

func (p *parser) bfdInstance(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	b := &BFDInstance{Pos: s.pos, Name: nm, MinRx: Seconds(0.01), MinTx: Seconds(0.01), IdleTx: Seconds(1), Multiplier: 5, TTL: 255}
	ms := func(dst *Duration, lo, hi int64) handler {
		return handler{fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, lo, hi); ok {
				*dst = Seconds(float64(n) / 1000)
			}
		}}
	}
	p.body(table{
		"neighbor_ip": {fn: func(p *parser, s stmt) {
			if w, ok := p.str(s); ok {
				b.NeighborIP, _ = p.addr(s.pos, w)
			}
		}},
		"source_ip": {fn: func(p *parser, s stmt) {
			if w, ok := p.str(s); ok {
				b.SourceIP, _ = p.addr(s.pos, w)
			}
		}},
		"min_rx":  ms(&b.MinRx, 1, 1000000),
		"min_tx":  ms(&b.MinTx, 1, 1000000),
		"idle_tx": ms(&b.IdleTx, 1, 1000000),
		"multiplier": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 255); ok {
				b.Multiplier = n
			}
		}},
		"passive": {fn: func(p *parser, s stmt) { b.Passive = true }},
		"ttl": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 255); ok {
				b.TTL = n
			}
		}},
		"hoplimit": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 255); ok {
				b.TTL = n
			}
		}},
		"max_hops": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 255); ok {
				b.MaxHops = n
			}
		}},
		"multihop": {fn: func(p *parser, s stmt) { b.Multihop = true }},
		"weight": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, -253, 253); ok {
				b.Weight = n
			}
			if len(s.words) > 2 && s.words[2] == "reverse" {
				b.Reverse = true
			}
		}},
		"vrrp":    {fn: func(p *parser, s stmt) { b.VRRP = true }},
		"checker": {fn: func(p *parser, s stmt) { b.Checker = true }},
	}, false)
	if !b.NeighborIP.IsValid() {
		p.errorf(s.pos, "bfd_instance %s: no neighbor_ip specified - ignoring", nm)
		return
	}
	if nm != "" {
		p.cfg.BFDInstances = append(p.cfg.BFDInstances, b)
	}
}

// trackTable adds the track_* blocks writing into t.
func trackTable(tb table, t *Tracking) {
	tb["track_interface"] = handler{block: true, fn: func(p *parser, s stmt) {
		if !p.enterList(s) {
			return
		}
		p.list(func(e stmt) {
			ti := TrackedInterface{Pos: e.pos, Name: e.kw()}
			if p.opts.HostChecks && !p.cfg.Global.DynamicInterfaces && !p.interfaceExists(ti.Name) {
				p.errorf(e.pos, "tracked interface %s doesn't exist", ti.Name)
			}
			p.weightOpts(e, -253, 253, func(w int) { ti.Weight = w }, &ti.Reverse, nil)
			t.TrackInterfaces = append(t.TrackInterfaces, ti)
		})
	}}
	ref := func(dst *[]TrackRef, lo, hi int64, reverseOK bool) handler {
		return handler{block: true, fn: func(p *parser, s stmt) {
			if !p.enterList(s) {
				return
			}
			what := s.kw()
			p.list(func(e stmt) {
				// keepalived resolves the name when it reads the line, so
				// the tracker must be defined earlier in the file.
				if !p.trackerDefined(what, e.kw()) {
					p.errorf(e.pos, "%s %s not found, ignoring...", strings.ReplaceAll(what, "_", " "), e.kw())
					return
				}
				r := TrackRef{Pos: e.pos, Name: e.kw()}
				var nrev *bool
				if reverseOK {
					nrev = &r.NoReverse
				}
				p.weightOpts(e, lo, hi, func(w int) { r.Weight = &w }, &r.Reverse, nrev)
				*dst = append(*dst, r)
			})
		}}
	}
	tb["track_script"] = ref(&t.TrackScripts, -253, 253, true)
	tb["track_file"] = ref(&t.TrackFiles, -254, 254, true)
	tb["track_process"] = ref(&t.TrackProcesses, -254, 254, true)
	tb["track_bfd"] = ref(&t.TrackBFDs, -253, 253, true)
}

// trackerDefined reports whether a tracker of the kind named by a track_*
// keyword has been defined so far.
func (p *parser) trackerDefined(kw, name string) bool {
	switch kw {
	case "track_script":
		for _, s := range p.cfg.Scripts {
			if s.Name == name {
				return true
			}
		}
	case "track_file":
		for _, f := range p.cfg.TrackFiles {
			if f.Name == name {
				return true
			}
		}
	case "track_process":
		for _, t := range p.cfg.TrackProcesses {
			if t.Name == name {
				return true
			}
		}
	case "track_bfd":
		for _, b := range p.cfg.BFDInstances {
			if b.Name == name {
				return true
			}
		}
	}
	return false
}

// weightOpts parses "NAME [weight W [reverse|noreverse]]".
func (p *parser) weightOpts(e stmt, lo, hi int64, set func(int), rev, norev *bool) {
	a := e.args()
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case "weight":
			if i+1 >= len(a) {
				p.errorf(e.pos, "missing weight value for %s", e.kw())
				return
			}
			i++
			if n, ok := p.intIn(e.pos, a[i], lo, hi); ok {
				set(int(n))
			}
		case "reverse":
			*rev = true
		case "noreverse":
			if norev != nil {
				*norev = true
			} else {
				p.errorf(e.pos, "unknown option '%s' for %s", a[i], e.kw())
			}
		default:
			p.errorf(e.pos, "unknown option '%s' for %s", a[i], e.kw())
		}
	}
}

// notifyTable adds notify keywords writing into n.
func notifyTable(tb table, n *Notify) {
	sc := func(dst **Script) handler {
		return handler{fn: func(p *parser, s stmt) {
			if *dst != nil {
				p.errorf(s.pos, "%s script already specified - ignoring %s", s.kw(), strings.Join(s.args(), " "))
				return
			}
			*dst = p.script(s)
		}}
	}
	tb["notify_master"] = sc(&n.NotifyMaster)
	tb["notify_backup"] = sc(&n.NotifyBackup)
	tb["notify_fault"] = sc(&n.NotifyFault)
	tb["notify_stop"] = sc(&n.NotifyStop)
	tb["notify"] = sc(&n.NotifyScript)
	tb["notify_priority_changes"] = handler{fn: func(p *parser, s stmt) { n.NotifyPriorityChanges = p.boolArg(s) }}
	tb["smtp_alert"] = handler{fn: func(p *parser, s stmt) { v := p.boolArg(s); n.SMTPAlert = &v }}
}

func (p *parser) syncGroup(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	for _, o := range p.cfg.SyncGroups {
		if o.Name == nm && nm != "" {
			p.errorf(s.pos, "vrrp sync group %s already defined", nm)
			p.skipBlock()
			return
		}
	}
	g := &SyncGroup{Pos: s.pos, Name: nm}
	tb := table{
		"group": {block: true, fn: func(p *parser, s stmt) {
			if !p.enterList(s) {
				return
			}
			p.list(func(e stmt) { g.Instances = append(g.Instances, e.words...) })
		}},
		"global_tracking": {fn: func(p *parser, s stmt) {
			g.GlobalTracking = true
			p.errorf(s.pos, "(%s) global_tracking is deprecated; use track_interface/script/file on the sync group", g.Name)
		}},
		"sync_group_tracking_weight": {fn: func(p *parser, s stmt) { g.SyncGroupTrackingWeight = true }},
	}
	trackTable(tb, &g.Tracking)
	notifyTable(tb, &g.Notify)
	p.body(tb, false)
	if nm != "" {
		p.cfg.SyncGroups = append(p.cfg.SyncGroups, g)
	}
}

// instanceState records which keywords an instance set explicitly, for
// defaults and validation after the block is read.
type instanceState struct {
	stateSet, prioSet, advertSet, versionSet bool
	advertRaw                                string
	advertPos, statePos, prioPos             Pos
	preemptDelayPos, nopreemptPos            Pos
	preemptDelaySet                          bool
	garpDelaySet, garpRepeatSet              bool
	lpDelaySet, lpRepeatSet                  bool
	refreshSet, refreshRepeatSet             bool
	lowerPrioSet, higherPrioSet              bool
	acceptSet, noAccept                      bool
	acceptPos                                Pos
	authPos                                  Pos
	vmacPos                                  Pos
	peerPos                                  Pos
	ttlPos                                   Pos
	ifPos                                    Pos
	closePos                                 Pos
}

func (p *parser) vrrpInstance(s stmt) {
	nm, _ := p.name(s)
	if !p.enter(s) {
		return
	}
	for _, o := range p.cfg.Instances {
		if o.Name == nm && nm != "" {
			p.errorf(s.pos, "vrrp instance %s already defined", nm)
			p.skipBlock()
			return
		}
	}
	v := &VRRPInstance{Pos: s.pos, Name: nm, Accept: true}
	st := &instanceState{}
	tb := p.instanceTable(v, st)
	p.body(tb, false)
	st.closePos = p.lastClose
	p.instanceDefaults(v, st)
	if nm != "" {
		p.cfg.Instances = append(p.cfg.Instances, v)
		p.instStates = append(p.instStates, st)
	}
}

func (p *parser) instanceTable(v *VRRPInstance, st *instanceState) table {
	flag := func(dst *bool) handler {
		return handler{fn: func(p *parser, s stmt) { *dst = p.boolArg(s) }}
	}
	addr := func(dst *netipAddr) handler {
		return handler{fn: func(p *parser, s stmt) {
			if w, ok := p.str(s); ok {
				// keepalived ignores a /len after the address.
				pf, err := parsePrefixOrAddr(w)
				if err != nil {
					p.errorf(s.pos, "(%s) invalid %s '%s'", v.Name, s.kw(), w)
					return
				}
				*dst = pf.Addr()
			}
		}}
	}
	tb := table{
		"state": {fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			st.statePos = s.pos
			switch w {
			case "MASTER":
				v.State = StateMaster
				st.stateSet = true
			case "BACKUP":
				v.State = StateBackup
				st.stateSet = true
			default:
				p.errorf(s.pos, "(%s) unknown state '%s', defaulting to BACKUP", v.Name, w)
			}
		}},
		"interface": {fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			st.ifPos = s.pos
			if w == "lo" {
				p.errorf(s.pos, "(%s) cannot use a loopback interface (lo) for vrrp - ignoring", v.Name)
				return
			}
			v.Interface = w
		}},
		"vrf": {fn: func(p *parser, s stmt) { v.VRF, _ = p.str(s) }},
		"virtual_router_id": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 255); ok {
				v.VRID = n
			} else {
				p.errorf(s.pos, "(%s): VRID '%s' not valid - must be between 1 & 255", v.Name, s.words[len(s.words)-1])
			}
		}},
		"priority": {fn: func(p *parser, s stmt) {
			st.prioPos = s.pos
			if n, ok := p.intArg(s, 1, 255); ok {
				v.Priority = n
				st.prioSet = true
			} else {
				p.errorf(s.pos, "(%s) priority not valid! must be between 1 & 255. Using default 100", v.Name)
			}
		}},
		"advert_int": {fn: func(p *parser, s stmt) {
			st.advertPos = s.pos
			if d, ok := p.secArg(s, 0.01, 255); ok {
				v.AdvertInt = d
				st.advertSet = true
				st.advertRaw = s.words[1]
			} else {
				p.errorf(s.pos, "(%s) advert_int invalid - ignoring", v.Name)
			}
		}},
		"version": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 2, 3); ok {
				v.Version = n
				st.versionSet = true
			} else {
				p.errorf(s.pos, "(%s) Version must be either 2 or 3", v.Name)
			}
		}},
		"nopreempt": {fn: func(p *parser, s stmt) { v.Nopreempt = true; st.nopreemptPos = s.pos }},
		"preempt":   {fn: func(p *parser, s stmt) { v.Nopreempt = false }},
		"preempt_delay": {fn: func(p *parser, s stmt) {
			st.preemptDelayPos = s.pos
			if d, ok := p.secArg(s, 0, 1000); ok {
				v.PreemptDelay = d
				st.preemptDelaySet = true
			} else {
				p.errorf(s.pos, "(%s) Preempt_delay not valid! must be between 0-1000", v.Name)
			}
		}},
		"timer_expired_backup": {fn: func(p *parser, s stmt) { v.TimerExpiredBackup = true; p.newer(s, "2.3.0") }},
		"thread_timer_expired": {fn: func(p *parser, s stmt) { v.TimerExpiredBackup = true; p.newer(s, "2.3.0") }},
		"down_timer_adverts": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 1, 100); ok {
				v.DownTimerAdverts = n
			}
		}},
		"skip_check_adv_addr": flag(&v.SkipCheckAdvAddr),
		"strict_mode":         flag(&v.StrictMode),
		"debug": {fn: func(p *parser, s stmt) {
			if len(s.words) < 2 {
				v.Debug = 1
				return
			}
			if n, ok := p.intArg(s, 0, 4); ok {
				v.Debug = n
			}
		}},
		"lower_prio_no_advert":    {fn: func(p *parser, s stmt) { v.LowerPrioNoAdvert = p.boolArg(s); st.lowerPrioSet = true }},
		"higher_prio_send_advert": {fn: func(p *parser, s stmt) { v.HigherPrioSendAdvert = p.boolArg(s); st.higherPrioSet = true }},
		"owner_ignore_adverts":    {fn: func(p *parser, s stmt) { v.OwnerIgnoreAdverts = p.boolArg(s); p.newer(s, "2.3.3") }},
		"v3_checksum_as_v2":       {fn: func(p *parser, s stmt) { v.V3ChecksumAsV2 = p.boolArg(s); p.newer(s, "2.3.0") }},
		"mcast_src_ip":            addr(&v.McastSrcIP),
		"unicast_src_ip":          addr(&v.UnicastSrcIP),
		"mcast_dst_ip": {fn: func(p *parser, s stmt) {
			if w, ok := p.str(s); ok {
				if a, ok := p.addr(s.pos, w); ok {
					if !a.IsMulticast() {
						p.errorf(s.pos, "(%s) mcast_dst_ip '%s' is not a multicast address - ignoring", v.Name, w)
						return
					}
					v.McastDstIP = a
				}
			}
		}},
		"unicast_peer": {block: true, fn: func(p *parser, s stmt) {
			st.peerPos = s.pos
			if !p.enterList(s) {
				return
			}
			p.list(func(e stmt) { p.unicastPeer(v, e) })
		}},
		"unicast_ttl": {fn: func(p *parser, s stmt) {
			st.ttlPos = s.pos
			if n, ok := p.intArg(s, 0, 255); ok {
				v.UnicastTTL = n
			}
		}},
		"unicast_fault_no_peer": {fn: func(p *parser, s stmt) { v.UnicastFaultNoPeer = true }},
		"check_unicast_src":     {fn: func(p *parser, s stmt) { v.CheckUnicastSrc = true }},
		"old_unicast_checksum": {fn: func(p *parser, s stmt) {
			v.OldUnicastChecksum = "always"
			if len(s.words) > 1 {
				if s.words[1] != "never" {
					p.errorf(s.pos, "(%s) unknown old_unicast_checksum option %s", v.Name, s.words[1])
				}
				v.OldUnicastChecksum = s.words[1]
			}
		}},
		"track_src_ip":       {fn: func(p *parser, s stmt) { v.TrackSrcIP = true }},
		"dont_track_primary": {fn: func(p *parser, s stmt) { v.DontTrackPrimary = true }},
		"use_vmac": {fn: func(p *parser, s stmt) {
			st.vmacPos = s.pos
			vm := &VMAC{Pos: s.pos}
			a := s.args()
			for i := 0; i < len(a); i++ {
				switch {
				case a[i] == "netlink_notify_msg":
					vm.NetlinkNotify = true
				case a[i] == "group" && i+1 < len(a):
					i++
					vm.Group = a[i]
				case a[i] == "name" && i+1 < len(a):
					i++
					vm.Name = a[i]
				case isMAC(a[i]):
					if strings.HasPrefix(strings.ToLower(a[i]), "00:00:5e:00:01:") || strings.HasPrefix(strings.ToLower(a[i]), "00:00:5e:00:02:") {
						p.errorf(s.pos, "VMAC MAC address not allowed to be RFC5798 address (%s) - ignoring", a[i])
						continue
					}
					vm.MAC = a[i]
				case vm.Name == "":
					vm.Name = a[i]
				default:
					p.errorf(s.pos, "(%s) unknown use_vmac parameter %s", v.Name, a[i])
				}
			}
			v.UseVMAC = vm
		}},
		"use_vmac_addr":  {fn: func(p *parser, s stmt) { v.UseVMACAddr = true }},
		"vmac_xmit_base": {fn: func(p *parser, s stmt) { v.VMACXmitBase = true }},
		"use_ipvlan": {fn: func(p *parser, s stmt) {
			iv := &IPVlan{Pos: s.pos}
			a := s.args()
			for i := 0; i < len(a); i++ {
				switch a[i] {
				case "bridge", "private", "vepa":
					iv.Mode = a[i]
				case "group":
					if i+1 < len(a) {
						i++
						iv.Group = a[i]
					}
				case "name":
					if i+1 < len(a) {
						i++
						iv.Name = a[i]
					}
				default:
					if pf, err := parsePrefixOrAddr(a[i]); err == nil {
						iv.Addr = pf
					} else if iv.Name == "" {
						iv.Name = a[i]
					} else {
						p.errorf(s.pos, "(%s) unknown use_ipvlan parameter %s", v.Name, a[i])
					}
				}
			}
			v.UseIPVlan = iv
		}},
		"native_ipv6": {fn: func(p *parser, s stmt) { v.NativeIPv6 = true }},
		"virtual_ipaddress": {block: true, fn: func(p *parser, s stmt) {
			// The first VIP decides the family; keepalived drops the
			// others as it reads them.
			for _, a := range p.addressBlock(s) {
				if len(v.VIPs) > 0 && a.Prefix.Addr().Is6() != v.VIPs[0].Prefix.Addr().Is6() {
					p.errorf(a.Pos, "(%s): address family must match VRRP instance [%s] - ignoring", v.Name, a.Prefix)
					continue
				}
				v.VIPs = append(v.VIPs, a)
			}
		}},
		"virtual_ipaddress_excluded": {block: true, fn: func(p *parser, s stmt) {
			v.ExcludedVIPs = append(v.ExcludedVIPs, p.addressBlock(s)...)
		}},
		"no_virtual_ipaddress": {fn: func(p *parser, s stmt) { v.NoVirtualIPAddress = true; p.newer(s, "2.3.0") }},
		"virtual_routes": {block: true, fn: func(p *parser, s stmt) {
			v.VirtualRoutes = append(v.VirtualRoutes, p.routeBlock(s, true)...)
		}},
		"virtual_rules": {block: true, fn: func(p *parser, s stmt) {
			v.VirtualRules = append(v.VirtualRules, p.ruleBlock(s)...)
		}},
		"promote_secondaries": {fn: func(p *parser, s stmt) { v.PromoteSecondaries = true }},
		"accept":              {fn: func(p *parser, s stmt) { st.acceptSet, st.noAccept, st.acceptPos = true, false, s.pos }},
		"no_accept":           {fn: func(p *parser, s stmt) { st.acceptSet, st.noAccept, st.acceptPos = true, true, s.pos }},
		"authentication": {block: true, fn: func(p *parser, s stmt) {
			st.authPos = s.pos
			if !p.enter(s) {
				return
			}
			a := &Authentication{Pos: s.pos}
			p.body(table{
				"auth_type": {fn: func(p *parser, s stmt) {
					w, ok := p.str(s)
					if !ok {
						return
					}
					switch w {
					case "PASS", "AH":
						a.Type = w
					default:
						p.errorf(s.pos, "(%s) unknown authentication type '%s'", v.Name, w)
					}
				}},
				"auth_pass": {fn: func(p *parser, s stmt) {
					w, ok := p.str(s)
					if !ok {
						return
					}
					if len(w) > 8 {
						p.errorf(s.pos, "truncating auth_pass to 8 characters")
						w = w[:8]
					}
					a.Pass = w
				}},
			}, false)
			if a.Type == "" {
				return
			}
			v.Authentication = a
		}},
		"auth_hmac": {block: true, fn: func(p *parser, s stmt) {
			p.newer(s, "2.4.0")
			if p.enter(s) {
				p.skipBlock()
			}
		}},
		"garp_master_delay": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 86400); ok {
				v.GarpMasterDelay = Seconds(float64(n))
				st.garpDelaySet = true
			}
		}},
		"garp_master_repeat": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				if n == 0 {
					p.errorf(s.pos, "(%s): garp_master_repeat must be greater than 0, setting to 1", v.Name)
					n = 1
				}
				v.GarpMasterRepeat = n
				st.garpRepeatSet = true
			}
		}},
		"garp_lower_prio_delay": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 86400); ok {
				v.GarpLowerPrioDelay = Seconds(float64(n))
				st.lpDelaySet = true
			}
		}},
		"garp_lower_prio_repeat": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				v.GarpLowerPrioRepeat = n
				st.lpRepeatSet = true
			}
		}},
		"garp_master_refresh": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				v.GarpMasterRefresh = Seconds(float64(n))
				st.refreshSet = true
			}
		}},
		"garp_master_refresh_repeat": {fn: func(p *parser, s stmt) {
			if n, ok := p.intArg(s, 0, 1<<31-1); ok {
				v.GarpMasterRefreshRepeat = n
				st.refreshRepeatSet = true
			}
		}},
		"garp_extra_if": {fn: func(p *parser, s stmt) {
			if len(s.words) < 2 || (len(s.words) == 2 && s.words[1] == "all") {
				p.errorf(s.pos, "(%s): garp_extra_if specified without time - ignoring", v.Name)
				return
			}
			v.GarpExtraIf = p.garpExtraIf(s)
		}},
		"vmac_garp_intvl": {fn: func(p *parser, s stmt) {
			p.errorf(s.pos, "keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"")
			if len(s.words) < 2 || (len(s.words) == 2 && s.words[1] == "all") {
				p.errorf(s.pos, "(%s): vmac_garp_intvl specified without time - ignoring", v.Name)
				return
			}
			v.GarpExtraIf = p.garpExtraIf(s)
		}},
		"notify_master_rx_lower_pri": {fn: func(p *parser, s stmt) { v.NotifyMasterRxLowerPr = p.script(s) }},
		"lvs_sync_daemon_interface": {fn: func(p *parser, s stmt) {
			w, ok := p.str(s)
			if !ok {
				return
			}
			p.errorf(s.pos, "(%s) specifying lvs_sync_daemon_interface against a vrrp is deprecated; please use global lvs_sync_daemon", v.Name)
			if g := p.cfg.Global.LVSSyncDaemon; g != nil {
				p.errorf(s.pos, "(%s) lvs_sync_daemon_interface has already been specified as %s - ignoring", v.Name, g.Interface)
				return
			}
			v.LVSSyncDaemonInterface = w
			p.cfg.Global.LVSSyncDaemon = &LVSSyncDaemon{Pos: s.pos, Interface: w, Instance: v.Name, Port: 8848}
		}},
		"kernel_rx_buf_size": {fn: func(p *parser, s stmt) {
			if len(s.words) < 2 {
				p.errorf(s.pos, "(%s) invalid kernel_rx_buf_size specified", v.Name)
				return
			}
			if n, ok := p.intArg(s, 1, 1<<31-1); ok {
				v.KernelRxBufSize = n
			}
		}},
		"linkbeat_use_polling": {fn: func(p *parser, s stmt) {
			v.LinkbeatUsePolling = true
			p.errorf(s.pos, "(%s) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block", v.Name)
		}},
	}
	trackTable(tb, &v.Tracking)
	notifyTable(tb, &v.Notify)
	tb["notify_deleted"] = handler{fn: func(p *parser, s stmt) { v.NotifyDeleted = p.script(s) }}
	return tb
}

// newer notes a keyword keepalived 2.2.7 does not know but later versions
// accept; xalived accepts it and says so.
func (p *parser) newer(s stmt, version string) {
	p.warnf(s.pos, "'%s' needs keepalived %s or later (2.2.7 reports it as unknown)", s.kw(), version)
}

func isMAC(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 5 && len(parts) != 6 {
		return false
	}
	for _, x := range parts {
		if len(x) != 2 || !isHex(x[0]) || !isHex(x[1]) {
			return false
		}
	}
	return true
}

func (p *parser) unicastPeer(v *VRRPInstance, e stmt) {
	pf, err := parsePrefixOrAddr(e.kw())
	if err != nil {
		p.errorf(e.pos, "invalid unicast peer address '%s'", e.kw())
		return
	}
	a := pf.Addr()
	var fam netipAddr
	// keepalived compares with the source address, not with the VIPs.
	switch {
	case v.UnicastSrcIP.IsValid():
		fam = v.UnicastSrcIP
	case v.McastSrcIP.IsValid():
		fam = v.McastSrcIP
	}
	if fam.IsValid() && fam.Is6() != a.Is6() {
		p.errorf(e.pos, "configuration error: VRRP instance[%s] and unicast peer address[%s] must be of the same family - skipping", v.Name, a)
		return
	}
	up := UnicastPeer{Pos: e.pos, Addr: a}
	args := e.args()
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "min_ttl", "max_ttl":
			if i+1 >= len(args) {
				p.errorf(e.pos, "missing value for %s", args[i])
				return
			}
			n, ok := p.intIn(e.pos, args[i+1], 0, 255)
			if ok {
				if args[i] == "min_ttl" {
					up.MinTTL = int(n)
				} else {
					up.MaxTTL = int(n)
				}
			}
			i++
		default:
			p.errorf(e.pos, "unknown unicast_peer option '%s'", args[i])
		}
	}
	v.UnicastPeers = append(v.UnicastPeers, up)
}
