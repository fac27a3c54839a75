package config

import (
	"net/netip"
	"sort"
	"strings"
)

// otherGlobals are global_defs keywords keepalived 2.2.7 accepts that the
// model keeps verbatim in GlobalDefs.Other (process tuning, SNMP, D-Bus,
// nftables details...).
var otherGlobals = []string{
	"bfd_cpu_affinity", "bfd_no_swap", "bfd_priority", "bfd_process_name", "bfd_rlimit_rttime", "bfd_rt_priority",
	"bfd_rlimit_rtime",
	"checker_cpu_affinity", "checker_no_swap", "checker_priority", "checker_process_name", "checker_rlimit_rttime",
	"checker_rt_priority", "checker_rlimit_rtime",
	"config_save_dir", "data_use_instance", "dbus_service_name", "dbus_no_interface_name", "disable_local_igmp", "enable_dbus",
	"enable_snmp_checker", "enable_snmp_keepalived", "enable_snmp_rfc", "enable_snmp_rfcv2", "enable_snmp_rfcv3",
	"enable_snmp_vrrp", "enable_traps", "include_check", "lvs_netlink_cmd_rcv_bufs", "lvs_netlink_cmd_rcv_bufs_force",
	"lvs_netlink_monitor_rcv_bufs", "lvs_netlink_monitor_rcv_bufs_force", "lvs_process_name", "max_auto_priority",
	"min_auto_priority_delay", "nftables_counters", "nftables_ifindex", "nftables_ipvs", "nftables_ipvs_priority",
	"nftables_ipvs_start_fwmark", "nftables_priority", "process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force",
	"process_names", "random_seed", "reload_file", "reload_repeat", "reload_time_file", "snmp_socket",
	"tmp_config_directory", "umask", "use_symlink_paths", "set_supplementary_groups", "vrrp_cpu_affinity",
	"vrrp_netlink_cmd_rcv_bufs", "vrrp_netlink_cmd_rcv_bufs_force", "vrrp_netlink_monitor_rcv_bufs",
	"vrrp_netlink_monitor_rcv_bufs_force", "vrrp_no_swap", "vrrp_priority", "vrrp_process_name", "vrrp_rlimit_rttime",
	"vrrp_rlimit_rtime", "vrrp_rt_priority", "vrrp_rx_bufs_multiplier", "vrrp_rx_bufs_policy", "vrrp_delay_after_boot",
	"snmp_vs_stats_update_interval", "snmp_rs_stats_update_interval", "json_version",
	"state_dump_file_location", "stats_dump_file_location", "json_dump_file_location", "process_name",
}

// removedGlobals are keywords older keepalived versions had; 2.2.7 treats
// them as unknown, so they are reported like any unknown keyword.

func (p *parser) globalDefs(s stmt) {
	if !p.enter(s) {
		return
	}
	g := &p.cfg.Global
	if g.Pos.Line == 0 {
		g.Pos = s.pos
	}
	t := table{}
	for _, k := range otherGlobals {
		t[k] = handler{fn: func(p *parser, s stmt) { p.keepGlobal(s) }}
	}
	str := func(dst *string) handler {
		return handler{fn: func(p *parser, s stmt) {
			if v, ok := p.str(s); ok {
				*dst = v
			}
		}}
	}
	flag := func(dst *bool) handler {
		return handler{fn: func(p *parser, s stmt) { *dst = p.boolArg(s) }}
	}
	optFlag := func(dst **bool) handler {
		return handler{fn: func(p *parser, s stmt) { v := p.boolArg(s); *dst = &v }}
	}
	t["router_id"] = str(&g.RouterID)
	t["notification_email"] = handler{block: true, fn: func(p *parser, s stmt) {
		if !p.enterList(s) {
			return
		}
		n := 0
		p.list(func(e stmt) { g.NotificationEmail = append(g.NotificationEmail, e.words...); n++ })
		if n == 0 {
			p.warnf(p.lastClose, "empty notification_email block")
		}
	}}
	t["notification_email_from"] = str(&g.NotificationEmailFrom)
	t["smtp_server"] = handler{fn: func(p *parser, s stmt) {
		if !p.need(s, 1) {
			return
		}
		host := s.words[1]
		g.SMTPServer = host
		g.SMTPServerPort = 25
		if len(s.words) > 2 {
			if v, ok := p.port(s.pos, s.words[2]); ok {
				g.SMTPServerPort = v
			}
		}
		// 2.2.7 accepts only an IP address here.
		if _, err := netip.ParseAddr(host); err != nil {
			p.errorf(s.pos, "invalid smtp server %s", strings.Join(s.args(), " "))
		}
	}}
	t["smtp_helo_name"] = str(&g.SMTPHeloName)
	t["smtp_connect_timeout"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.secArg(s, 0.000001, 4294.967295); ok {
			g.SMTPConnectTimeout = v
		}
	}}
	t["smtp_alert"] = optFlag(&g.SMTPAlert)
	t["smtp_alert_vrrp"] = optFlag(&g.SMTPAlertVRRP)
	t["smtp_alert_checker"] = optFlag(&g.SMTPAlertChecker)
	t["no_email_faults"] = flag(&g.NoEmailFaults)
	t["no_checker_emails"] = flag(&g.NoCheckerEmails)
	t["checker_log_all_failures"] = flag(&g.CheckerLogAllFailures)
	t["default_interface"] = str(&g.DefaultInterface)
	t["dynamic_interfaces"] = handler{fn: func(p *parser, s stmt) {
		g.DynamicInterfaces = true
		if len(s.words) > 1 && s.words[1] == "allow_if_changes" {
			g.DynamicInterfacesAllow = true
		}
	}}
	t["vrrp_version"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 2, 3); ok {
			g.VRRPVersion = v
		} else {
			p.errorf(s.pos, "VRRP error: version must be either 2 or 3")
		}
	}}
	t["vrrp_mcast_group4"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			if a, ok := p.addr(s.pos, w); ok {
				if !a.Is4() || !a.IsMulticast() {
					p.errorf(s.pos, "vrrp_mcast_group4 '%s' is not an IPv4 multicast address", w)
					return
				}
				g.VRRPMcastGroup4 = a
			}
		}
	}}
	t["vrrp_mcast_group6"] = handler{fn: func(p *parser, s stmt) {
		if w, ok := p.str(s); ok {
			if a, ok := p.addr(s.pos, w); ok {
				if !a.Is6() || !a.IsMulticast() {
					p.errorf(s.pos, "vrrp_mcast_group6 '%s' is not an IPv6 multicast address", w)
					return
				}
				g.VRRPMcastGroup6 = a
			}
		}
	}}
	t["vrrp_garp_master_delay"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 86400); ok {
			g.VRRPGarpMasterDelay = Seconds(float64(v))
		}
	}}
	t["vrrp_garp_master_repeat"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 1<<31-1); ok {
			if v == 0 {
				p.errorf(s.pos, "vrrp_garp_master_repeat must be greater than 0, setting to 1")
				v = 1
			}
			g.VRRPGarpMasterRepeat = v
		}
	}}
	t["vrrp_garp_master_refresh"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 1<<31-1); ok {
			g.VRRPGarpMasterRefresh = Seconds(float64(v))
		}
	}}
	t["vrrp_garp_master_refresh_repeat"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 1<<31-1); ok {
			g.VRRPGarpRefreshRepeat = v
		}
	}}
	t["vrrp_garp_lower_prio_delay"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 86400); ok {
			d := Seconds(float64(v))
			g.VRRPGarpLowerPrioDelay = &d
		}
	}}
	t["vrrp_garp_lower_prio_repeat"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 0, 1<<31-1); ok {
			g.VRRPGarpLowerPrioRepeat = &v
		}
	}}
	t["vrrp_garp_interval"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.secArg(s, 0.000001, 4294.967295); ok {
			g.VRRPGarpInterval = v
		} else {
			p.errorf(s.pos, "vrrp_garp_interval '%s' is invalid", strings.Join(s.args(), " "))
		}
	}}
	t["vrrp_gna_interval"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.secArg(s, 0.000001, 4294.967295); ok {
			g.VRRPGnaInterval = v
		} else {
			p.errorf(s.pos, "vrrp_gna_interval '%s' is invalid", strings.Join(s.args(), " "))
		}
	}}
	t["vrrp_min_garp"] = flag(&g.VRRPMinGarp)
	t["vrrp_garp_extra_if"] = handler{fn: func(p *parser, s stmt) { g.VRRPGarpExtraIf = p.garpExtraIf(s) }}
	t["vrrp_down_timer_adverts"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 1, 100); ok {
			g.VRRPDownTimerAdverts = v
		}
	}}
	t["vrrp_lower_prio_no_advert"] = flag(&g.VRRPLowerPrioNoAdvert)
	t["vrrp_higher_prio_send_advert"] = flag(&g.VRRPHigherPrioSendAdvert)
	t["v3_checksum_as_v2"] = flag(&g.V3ChecksumAsV2)
	t["vrrp_strict"] = flag(&g.VRRPStrict)
	t["vrrp_check_unicast_src"] = flag(&g.VRRPCheckUnicastSrc)
	t["vrrp_skip_check_adv_addr"] = flag(&g.VRRPSkipCheckAdvAddr)
	t["vrrp_iptables"] = handler{fn: func(p *parser, s stmt) {
		g.VRRPIptables = append([]string{}, s.args()...)
		// Debian's 2.2.7 is built without iptables support.
		p.errorf(s.pos, "iptables not supported, using nftables instead. Please replace 'vrrp_iptables' and 'vrrp_ipsets' with 'nftables' config option")
		if g.Nftables == nil {
			empty := ""
			g.Nftables = &empty
		}
	}}
	t["nftables"] = handler{fn: func(p *parser, s stmt) {
		v := "keepalived"
		if len(s.words) > 1 {
			v = s.words[1]
		}
		g.Nftables = &v
	}}
	t["vrrp_startup_delay"] = handler{fn: func(p *parser, s stmt) { g.VRRPStartupDelay, _ = p.secArg(s, 0, 86400) }}
	t["vrrp_notify_priority_changes"] = flag(&g.VRRPNotifyPriorityChanges)
	t["vmac_prefix"] = str(&g.VmacPrefix)
	t["vmac_addr_prefix"] = str(&g.VmacAddrPrefix)
	t["log_unknown_vrids"] = flag(&g.LogUnknownVRIDs)
	t["lvs_sync_daemon"] = handler{fn: func(p *parser, s stmt) { p.lvsSyncDaemon(s) }}
	t["lvs_timeouts"] = handler{fn: func(p *parser, s stmt) { p.lvsTimeouts(s) }}
	t["lvs_flush"] = flag(&g.LVSFlush)
	t["lvs_flush_on_stop"] = handler{fn: func(p *parser, s stmt) {
		g.LVSFlushOnStop = "all"
		if len(s.words) > 1 {
			g.LVSFlushOnStop = s.words[1]
		}
	}}
	t["script_user"] = handler{fn: func(p *parser, s stmt) {
		if u, ok := p.str(s); ok {
			g.ScriptUser = u
			if i := strings.IndexByte(u, ':'); i >= 0 {
				g.ScriptUser, g.ScriptGroup = u[:i], u[i+1:]
			}
			if len(s.words) > 2 {
				g.ScriptGroup = s.words[2]
			}
			p.scriptUserSet = true
			p.scriptUserBad = false
			if p.opts.HostChecks && !lookupUserGroup(g.ScriptUser, g.ScriptGroup) {
				p.errorf(s.pos, "error setting global script uid/gid")
				p.scriptUserBad = true
			}
		}
	}}
	t["enable_script_security"] = flag(&g.EnableScriptSecurity)
	fifo := func(dst **Fifo) handler {
		return handler{fn: func(p *parser, s stmt) {
			if v, ok := p.str(s); ok {
				f := &Fifo{Pos: s.pos, Path: v}
				if *dst != nil {
					f.Script = (*dst).Script
				}
				if len(s.words) > 2 {
					f.Group = s.words[2]
				}
				*dst = f
			}
		}}
	}
	fifoScript := func(dst **Fifo) handler {
		return handler{fn: func(p *parser, s stmt) {
			sc := p.script(s)
			if sc == nil {
				return
			}
			if *dst == nil {
				*dst = &Fifo{Pos: s.pos}
			}
			(*dst).Script = sc
		}}
	}
	t["notify_fifo"] = fifo(&g.NotifyFifo)
	t["notify_fifo_script"] = fifoScript(&g.NotifyFifo)
	t["vrrp_notify_fifo"] = fifo(&g.VRRPNotifyFifo)
	t["vrrp_notify_fifo_script"] = fifoScript(&g.VRRPNotifyFifo)
	t["lvs_notify_fifo"] = fifo(&g.LVSNotifyFifo)
	t["lvs_notify_fifo_script"] = fifoScript(&g.LVSNotifyFifo)
	t["fifo_write_vrrp_states_on_reload"] = flag(&g.FifoWriteOnReload)
	t["rs_init_notifies"] = flag(&g.RSInitNotifies)
	t["reload_check_config"] = handler{fn: func(p *parser, s stmt) {
		v := ""
		if len(s.words) > 1 {
			v = s.words[1]
		}
		g.ReloadCheckConfig = &v
	}}
	t["startup_script"] = handler{fn: func(p *parser, s stmt) { g.StartupScript = p.script(s) }}
	t["startup_script_timeout"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 1, 1000); ok {
			g.StartupTimeout = Seconds(float64(v))
		}
	}}
	t["shutdown_script"] = handler{fn: func(p *parser, s stmt) { g.ShutdownScript = p.script(s) }}
	t["shutdown_script_timeout"] = handler{fn: func(p *parser, s stmt) {
		if v, ok := p.intArg(s, 1, 1000); ok {
			g.ShutdownTimeout = Seconds(float64(v))
		}
	}}
	newerStr := func(dst *string) handler {
		return handler{fn: func(p *parser, s stmt) {
			p.newer(s, "2.3.0")
			if v, ok := p.str(s); ok {
				*dst = v
			}
		}}
	}
	t["state_dump_file"] = newerStr(&g.StateDumpFile)
	t["stats_dump_file"] = newerStr(&g.StatsDumpFile)
	t["json_dump_file"] = newerStr(&g.JSONDumpFile)
	p.body(t, false)
}

func (p *parser) garpExtraIf(s stmt) *GarpExtraIf {
	args := s.args()
	g := &GarpExtraIf{Pos: s.pos}
	if len(args) > 0 && args[0] == "all" {
		g.All = true
		args = args[1:]
	}
	if len(args) == 0 {
		p.errorf(s.pos, "%s: missing interval", s.kw())
		return nil
	}
	v, ok := p.intIn(s.pos, args[0], 0, 86400)
	if !ok {
		return nil
	}
	g.Interval = Seconds(float64(v))
	return g
}

func (p *parser) lvsSyncDaemon(s stmt) {
	if !p.need(s, 1) {
		return
	}
	d := &LVSSyncDaemon{Pos: s.pos, Interface: s.words[1], Port: 8848}
	a := s.words[2:]
	for i := 0; i < len(a); i++ {
		val := func() (string, bool) {
			if i+1 >= len(a) {
				p.errorf(s.pos, "lvs_sync_daemon: missing value for %s", a[i])
				return "", false
			}
			i++
			return a[i], true
		}
		switch a[i] {
		case "inst":
			if v, ok := val(); ok {
				d.Instance = v
			}
		case "id":
			if v, ok := val(); ok {
				if n, ok := p.intIn(s.pos, v, 0, 255); ok {
					d.SyncID = int(n)
				}
			}
		case "maxlen":
			if v, ok := val(); ok {
				if n, ok := p.intIn(s.pos, v, 1, 65535-20-8); ok {
					d.MaxLen = int(n)
				}
			}
		case "port":
			if v, ok := val(); ok {
				if n, ok := p.intIn(s.pos, v, 1, 65535); ok {
					d.Port = int(n)
				}
			}
		case "ttl":
			if v, ok := val(); ok {
				if n, ok := p.intIn(s.pos, v, 1, 255); ok {
					d.TTL = int(n)
				}
			}
		case "group":
			if v, ok := val(); ok {
				if ad, ok := p.addr(s.pos, v); ok {
					d.Group = ad
				}
			}
		default:
			if i == 0 && d.Instance == "" {
				d.Instance = a[i]
				continue
			}
			p.errorf(s.pos, "lvs_sync_daemon: unknown option '%s'", a[i])
		}
	}
	p.cfg.Global.LVSSyncDaemon = d
}

func (p *parser) lvsTimeouts(s stmt) {
	t := &LVSTimeouts{Pos: s.pos}
	a := s.args()
	for i := 0; i < len(a); i++ {
		var dst *Duration
		switch a[i] {
		case "tcp":
			dst = &t.TCP
		case "tcpfin":
			dst = &t.TCPFin
		case "udp":
			dst = &t.UDP
		default:
			p.errorf(s.pos, "unknown option %s specified for lvs_timeouts", a[i])
			continue
		}
		if i+1 >= len(a) {
			p.errorf(s.pos, "no value specified for lvs_timeout %s", a[i])
			break
		}
		i++
		if v, ok := p.intIn(s.pos, a[i], 0, 86400*31); ok {
			*dst = Seconds(float64(v))
		}
	}
	p.cfg.Global.LVSTimeouts = t
}

// stableSort is a small generic stable sort.
func stableSort[T any](s []T, less func(a, b T) bool) {
	sort.SliceStable(s, func(i, j int) bool { return less(s[i], s[j]) })
}
