package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xalived/xalived/internal/testenv"
)

const valuesFile = "testdata/values-keepalived.json"

// valueBases are otherwise clean configurations with a %s where the
// probed keyword line goes; keepalived -t accepts each with a comment there.
var valueBases = map[string]string{
	"global_defs": "global_defs {\n dynamic_interfaces\n enable_script_security\n script_user root\n%s\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n",
	"vrrp_instance": "global_defs {\n dynamic_interfaces\n enable_script_security\n script_user root\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n%s\n}\n",
	"vrrp_script": "global_defs {\n dynamic_interfaces\n enable_script_security\n script_user root\n}\n" +
		"vrrp_script S {\n script /bin/true\n%s\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n track_script {\n  S\n }\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n",
	"virtual_server": "virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n%s\n" +
		" real_server 198.51.100.11 80 {\n  TCP_CHECK {\n  }\n }\n}\n",
	"real_server": "virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n%s\n  TCP_CHECK {\n  }\n }\n}\n",
	"TCP_CHECK": "virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n  TCP_CHECK {\n%s\n  }\n }\n}\n",
	"url": "virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n  HTTP_GET {\n   url {\n    path /\n%s\n   }\n  }\n }\n}\n",
	"DNS_CHECK": "virtual_server 198.51.100.10 53 {\n lb_algo rr\n lb_kind NAT\n protocol UDP\n" +
		" real_server 198.51.100.11 53 {\n  DNS_CHECK {\n%s\n  }\n }\n}\n",
	"UDP_CHECK": "virtual_server 198.51.100.10 53 {\n lb_algo rr\n lb_kind NAT\n protocol UDP\n" +
		" real_server 198.51.100.11 53 {\n  UDP_CHECK {\n%s\n  }\n }\n}\n",
	"virtual_ipaddress": "global_defs {\n dynamic_interfaces\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n%s\n }\n}\n",
	"virtual_routes": "global_defs {\n dynamic_interfaces\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n virtual_routes {\n%s\n }\n}\n",
	"virtual_rules": "global_defs {\n dynamic_interfaces\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n virtual_rules {\n%s\n }\n}\n",
	"unicast_peer": "global_defs {\n dynamic_interfaces\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n unicast_src_ip 198.51.100.2\n virtual_ipaddress {\n  198.51.100.1\n }\n unicast_peer {\n  198.51.100.3\n%s\n }\n}\n",
	"track_interface": "global_defs {\n dynamic_interfaces\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n track_interface {\n%s\n }\n}\n",
	"virtual_server_group": "virtual_server_group G {\n 198.51.100.99 80\n%s\n}\nvirtual_server group G {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n  TCP_CHECK {\n  }\n }\n}\n",
	"track_file": "global_defs {\n dynamic_interfaces\n}\ntrack_file F {\n file /tmp/xalived-probe\n%s\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n track_file {\n  F\n }\n}\n",
	"bfd_instance": "global_defs {\n dynamic_interfaces\n}\nbfd_instance B {\n neighbor_ip 198.51.100.9\n%s\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n track_bfd {\n  B\n }\n}\n",
	"vrrp_sync_group": "global_defs {\n dynamic_interfaces\n enable_script_security\n script_user root\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n" +
		"vrrp_instance VI_2 {\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  198.51.100.2\n }\n}\n" +
		"vrrp_sync_group G {\n group {\n  VI_1\n  VI_2\n }\n%s\n}\n",
	"vrrp_track_process": "global_defs {\n dynamic_interfaces\n}\nvrrp_track_process P {\n process sshd\n%s\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n track_process {\n  P\n }\n}\n",
	"SMTP_CHECK": "virtual_server 198.51.100.10 25 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 25 {\n  SMTP_CHECK {\n%s\n  }\n }\n}\n",
	"SSL_GET": "virtual_server 198.51.100.10 443 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 443 {\n  SSL_GET {\n   url {\n    path /\n   }\n%s\n  }\n }\n}\n",
	"HTTP_GET": "virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n  HTTP_GET {\n   url {\n    path /\n   }\n%s\n  }\n }\n}\n",
	"MISC_CHECK": "global_defs {\n enable_script_security\n script_user root\n}\n" +
		"virtual_server 198.51.100.10 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n" +
		" real_server 198.51.100.11 80 {\n  MISC_CHECK {\n   misc_path /bin/true\n%s\n  }\n }\n}\n",
}

// valueProbes are keyword lines with values at and beyond keepalived's
// limits, per base.
var valueProbes = map[string][]string{
	"global_defs": {
		"router_id r1", "vrrp_version 2", "vrrp_version 3", "vrrp_version 1", "vrrp_version 4",
		"vrrp_garp_interval 0", "vrrp_garp_interval 0.5", "vrrp_garp_interval 1", "vrrp_garp_interval 2", "vrrp_gna_interval 0.000001",
		"vrrp_down_timer_adverts 0", "vrrp_down_timer_adverts 1", "vrrp_down_timer_adverts 100", "vrrp_down_timer_adverts 101",
		"vrrp_mcast_group4 224.0.0.19", "vrrp_mcast_group4 198.51.100.1", "vrrp_mcast_group6 ff02::13", "vrrp_mcast_group6 2001:db8::1",
		"smtp_server 198.51.100.25", "smtp_server 198.51.100.25 2525", "smtp_server mail.example.com",
		"smtp_connect_timeout 0", "smtp_connect_timeout 30", "vrrp_garp_master_delay 0", "vrrp_garp_master_delay 10",
		"vrrp_garp_master_repeat 0", "vrrp_garp_master_repeat 3", "vrrp_garp_master_refresh 0", "vrrp_garp_master_refresh 60",
		"lvs_timeouts tcp 10 udp 5", "lvs_timeouts foo 1", "vrrp_startup_delay 5", "vrrp_startup_delay abc",
		"vrrp_strict", "vrrp_lower_prio_no_advert yes", "vrrp_lower_prio_no_advert maybe", "nftables", "nftables mytable",
		"lvs_sync_daemon eth0", "lvs_sync_daemon eth0 VI_1 id 5", "lvs_sync_daemon eth0 id 300",
		"default_interface eth0", "vmac_prefix vr", "startup_script_timeout 0", "startup_script_timeout 10",
	},
	"vrrp_instance": {
		"priority 0", "priority 1", "priority 254", "priority 255", "priority 256", "priority abc",
		"virtual_router_id 0", "virtual_router_id 255", "virtual_router_id 256",
		"advert_int 0", "advert_int 0.001", "advert_int 0.01", "advert_int 1", "advert_int 1.5", "advert_int 255", "advert_int 256", "advert_int abc",
		"version 1", "version 2", "version 3", "version 4",
		"state MASTER", "state BACKUP", "state FOO",
		"preempt_delay 0", "preempt_delay 10", "preempt_delay 1000", "preempt_delay 1001", "preempt_delay -1",
		"down_timer_adverts 0", "down_timer_adverts 1", "down_timer_adverts 100", "down_timer_adverts 101",
		"garp_master_delay 0", "garp_master_delay 5", "garp_master_repeat 0", "garp_master_repeat 3",
		"debug 0", "debug 4", "debug 5",
		"mcast_dst_ip 224.0.0.20", "mcast_dst_ip 198.51.100.1", "mcast_src_ip 198.51.100.1", "mcast_src_ip abc",
		"unicast_src_ip 198.51.100.1", "lower_prio_no_advert on", "lower_prio_no_advert bogus",
		"nopreempt", "preempt", "dont_track_primary", "use_vmac", "use_vmac vrrp.1", "use_vmac 00:00:5e:00:01:01",
		"accept", "no_accept", "promote_secondaries", "strict_mode", "strict_mode off",
		"garp_extra_if 10", "garp_extra_if all 10", "garp_extra_if all",
	},
	"vrrp_script": {
		"interval 0", "interval 1", "interval 0.5", "interval abc", "timeout 0", "timeout 2",
		"weight -254", "weight -253", "weight 0", "weight 253", "weight 254", "weight 10 reverse", "weight 10 foo",
		"rise 0", "rise 1", "fall 0", "fall 3", "init_fail", "user root",
	},
	"virtual_server": {
		"delay_loop 0", "delay_loop 0.5", "delay_loop 10", "lb_algo wrr", "lb_algo foo", "lb_algo mh",
		"lb_kind DR", "lb_kind TUN", "lb_kind FOO", "protocol SCTP", "protocol ICMP",
		"persistence_timeout", "persistence_timeout 0", "persistence_timeout 1", "persistence_timeout 360", "persistence_timeout abc",
		"quorum 0", "quorum 1", "hysteresis 0", "hysteresis 2",
		"persistence_granularity 24", "persistence_granularity 255.255.255.0", "persistence_granularity foo",
		"sorry_server 198.51.100.99 80", "sorry_server abc 80", "ip_family inet", "ip_family foo",
		"ha_suspend", "alpha", "omega", "inhibit_on_failure", "virtualhost www.example.com", "ops",
		"retry 3", "connect_timeout 5", "delay_before_retry 2", "warmup 5",
	},
	"real_server": {
		"weight 0", "weight 1", "weight 65535", "weight 65536", "weight -1",
		"uthreshold 0", "uthreshold 10", "lthreshold 5", "inhibit_on_failure", "alpha",
		"retry 2", "delay_before_retry 1", "connect_timeout 2", "warmup 3", "delay_loop 7",
		"lvs_method DR", "lvs_method FOO",
	},
	"TCP_CHECK": {
		"connect_timeout 0", "connect_timeout 0.5", "connect_timeout 1", "retry 0", "retry 3", "retry -1",
		"delay_before_retry 0", "delay_before_retry 2", "connect_port 0", "connect_port 80", "connect_port 65536",
		"connect_ip 198.51.100.1", "connect_ip abc", "bindto 198.51.100.1", "bindto abc", "bind_port 1000",
		"warmup 0", "warmup 2", "delay_loop 0", "delay_loop 3", "alpha", "log_all_failures", "fwmark 5",
	},
	"url": {
		"status_code 200", "status_code 200-299", "status_code 99", "status_code 600", "status_code abc",
		"digest 9b3a0c85a887a256d6939da88aabd8cd", "digest abc", "virtualhost x.example.com",
		"regex ^ok", "regex_no_match", "regex_min_offset 5", "regex_max_offset 10",
	},
	"DNS_CHECK": {"type A", "type AAAA", "type FOO", "name example.com", "retry 2"},
	"UDP_CHECK": {
		"payload 0a0b", "payload zz", "payload 0a0", "require_reply 0a0b", "require_reply", "require_reply 0aXX",
		"min_reply_length 0", "min_reply_length 10", "max_reply_length 100",
	},
	"virtual_ipaddress": {
		"198.51.100.2/24", "198.51.100.2/33", "198.51.100.2/255.255.255.0", "198.51.100.2 dev eth0", "198.51.100.2 brd 198.51.100.255",
		"198.51.100.2/24 brd +", "198.51.100.2 brd foo", "198.51.100.2 scope link", "198.51.100.2 scope foo", "198.51.100.2 label eth0:1",
		"198.51.100.2 peer 198.51.100.3", "198.51.100.2 home", "198.51.100.2 no_track", "198.51.100.2 foo", "198.51.100.2 dev",
		"2001:db8::1", "198.51.100.256", "198.51.100.2 preferred_lft 0", "198.51.100.2 preferred_lft forever", "198.51.100.2 use_vmac",
	},
	"virtual_routes": {
		"203.0.113.0/24 dev eth0", "203.0.113.0/24 via 198.51.100.254 dev eth0", "203.0.113.1/24 dev eth0", "default via 198.51.100.254 dev eth0",
		"203.0.113.0/24 via 198.51.100.254", "blackhole 203.0.113.0/24", "203.0.113.0/24 dev eth0 table 100", "203.0.113.0/24 dev eth0 metric 5",
		"203.0.113.0/24 dev eth0 foo", "foo dev eth0", "203.0.113.0/24 dev eth0 no_track", "src 198.51.100.1 203.0.113.0/24 dev eth0",
		"203.0.113.0/24 dev eth0 scope link", "203.0.113.0/24 dev eth0 mtu 1400", "203.0.113.0/24 dev eth0 proto static",
	},
	"virtual_rules": {
		"from 198.51.100.1 table 100", "from 198.51.100.1 table 100 priority 10", "to 203.0.113.0/24 table 100 preference 20",
		"from 198.51.100.1 lookup 100 prio 30", "from all fwmark 5 table 100 priority 40", "iif eth0 table 100 priority 50",
		"from 198.51.100.1 foo", "from 2001:db8::1 to 198.51.100.1 table 1 priority 1", "from foo table 100 priority 1",
	},
	"unicast_peer":    {"198.51.100.4", "198.51.100.4 min_ttl 5", "198.51.100.4 max_ttl 300", "198.51.100.4 foo", "2001:db8::4", "abc"},
	"track_interface": {"eth1", "eth1 weight 10", "eth1 weight 254", "eth1 weight -253", "eth1 weight 10 reverse", "eth1 foo", "eth1 weight"},
	"virtual_server_group": {
		"198.51.100.10 80", "198.51.100.10-20 80", "198.51.100.10-198.51.100.20 80", "198.51.100.0/28 80", "fwmark 5",
		"198.51.100.10", "abc 80", "198.51.100.10 70000", "198.51.100.20-10 80",
	},
	"track_file": {"weight 0", "weight 254", "weight 255", "weight -254", "weight -255", "weight 5 reverse", "init_file", "init_file 5 overwrite", "init_file foo"},
	"bfd_instance": {"min_rx 10", "min_rx 0", "min_tx 100", "idle_tx 1000", "multiplier 3", "multiplier 0", "multiplier 256",
		"passive", "ttl 64", "ttl 0", "max_hops 5", "weight 10", "weight 254", "source_ip 198.51.100.8", "source_ip abc"},
	"vrrp_sync_group": {
		"notify_master /bin/true", "notify /bin/true", "smtp_alert", "global_tracking", "sync_group_tracking_weight",
		"track_interface {\n  eth0\n }", "notify_master /bin/true root", "notify_priority_changes",
	},
	"vrrp_track_process": {
		"weight 10", "weight 254", "weight 255", "quorum 0", "quorum 1", "quorum 2", "quorum_max 1", "param_match initial",
		"param_match foo", "delay 1", "fork_delay 0.5", "terminate_delay 2", "full_command", "process sshd -D",
	},
	"SMTP_CHECK": {"helo_name mail.example.com", "connect_timeout 5", "retry 2", "host {\n   connect_ip 198.51.100.12\n  }", "connect_port 2525"},
	"SSL_GET":    {"enable_sni", "tls_compliant", "http_protocol 1.1", "http_protocol 2", "fast_recovery", "virtualhost x.example.com"},
	"HTTP_GET":   {"http_protocol 1.0", "http_protocol 1.0C", "http_protocol 1.1", "http_protocol 3", "fast_recovery", "nb_get_retry 2", "enable_sni"},
	"MISC_CHECK": {"misc_timeout 0", "misc_timeout 5", "misc_timeout abc", "misc_dynamic", "user root", "retry 1"},
}

// valueRecord is keepalived's verdict per probe: exit code and whether it
// printed a message at the probed line.
type valueRecord struct {
	Keepalived string                  `json:"keepalived"`
	Verdicts   map[string]valueVerdict `json:"verdicts"`
}

type valueVerdict struct {
	Exit     int      `json:"exit"`
	AtLine   bool     `json:"at_line"`
	Messages []string `json:"messages,omitempty"`
}

// probeLine is the 1-based line of the %s in base.
func probeLine(base string) int {
	i := strings.Index(base, "%s")
	return strings.Count(base[:i], "\n") + 1
}

func valueKey(base, probe string) string { return base + ": " + probe }

// TestValuesMatchKeepalived checks keyword values at and beyond keepalived's
// limits: xalived must refuse (-t) exactly the configurations keepalived
// 2.2.7 refuses and report a problem at the probed line exactly when
// keepalived does (recorded by -update-keepalived).
func TestValuesMatchKeepalived(t *testing.T) {
	if *updateKeepalived {
		testenv.RequireCommand(t, "keepalived")
		rec := valueRecord{Keepalived: keepalivedVersion(), Verdicts: map[string]valueVerdict{}}
		dir := t.TempDir()
		for base := range valueBases {
			clean := filepath.Join(dir, "clean.conf")
			if err := os.WriteFile(clean, []byte(fmt.Sprintf(valueBases[base], "# probe")), 0o644); err != nil {
				t.Fatal(err)
			}
			if v := runKeepalived(t, corpusEntry{key: base, path: clean, id: "probe"}); v.Exit != 0 {
				t.Fatalf("base %s is not clean for keepalived: %v", base, v.Messages)
			}
			for _, pr := range valueProbes[base] {
				f := filepath.Join(dir, "probe.conf")
				if err := os.WriteFile(f, []byte(fmt.Sprintf(valueBases[base], pr)), 0o644); err != nil {
					t.Fatal(err)
				}
				v := runKeepalived(t, corpusEntry{key: pr, path: f, id: "probe"})
				rec.Verdicts[valueKey(base, pr)] = valueVerdict{Exit: v.Exit, AtLine: slices.Contains(v.Lines, probeLine(valueBases[base])), Messages: v.Messages}
			}
		}
		data, _ := json.MarshalIndent(rec, "", "  ")
		if err := os.WriteFile(valuesFile, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatalf("%v (run go test -run TestValuesMatchKeepalived -update-keepalived)", err)
	}
	var rec valueRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	n := 0
	for base, probes := range valueProbes {
		for _, pr := range probes {
			ka, ok := rec.Verdicts[valueKey(base, pr)]
			if !ok {
				t.Errorf("%s: no recorded verdict (run -update-keepalived)", valueKey(base, pr))
				continue
			}
			n++
			text := fmt.Sprintf(valueBases[base], pr)
			_, diags, err := Parse("probe.conf", []byte(text), Options{ConfigID: "probe", FS: memFS{}})
			line := probeLine(valueBases[base])
			at := false
			for _, d := range diags {
				if d.Pos.Line == line && !d.Late {
					at = true
				}
			}
			if strings.Contains(diags.String(), "needs keepalived") {
				// deliberate: a keyword newer than 2.2.7, accepted with a warning
				continue
			}
			if (err == nil) != (ka.Exit == 0) || at != ka.AtLine {
				t.Errorf("%s: keepalived exit %d, message at line %v %q; xalived error %v, at line %v:\n%s",
					valueKey(base, pr), ka.Exit, ka.AtLine, ka.Messages, err != nil, at, diags)
			}
		}
	}
	t.Logf("%d value probes", n)
}
