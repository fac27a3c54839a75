package config

import (
	"strings"
	"testing"
	"time"
)

func parseString(t *testing.T, text string) (*Config, Diagnostics) {
	t.Helper()
	cfg, diags, _ := Parse("test.conf", []byte(text), Options{ConfigID: "node1"})
	if cfg == nil {
		t.Fatalf("no config")
	}
	return cfg, diags
}

func TestInstanceDefaultsAndRounding(t *testing.T) {
	cfg, diags := parseString(t, `
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  advert_int 1.5
  virtual_ipaddress {
    198.51.100.10/24 dev eth0
  }
}
vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  version 3
  advert_int 0.123
  priority 255
  virtual_ipaddress { 203.0.113.1 }
}
`)
	if len(cfg.Instances) != 2 {
		t.Fatalf("instances = %d, diags:\n%s", len(cfg.Instances), diags)
	}
	v1, v2 := cfg.Instances[0], cfg.Instances[1]
	if v1.AdvertInt.D() != 2*time.Second || v1.Priority != 100 || v1.Version != 2 {
		t.Errorf("VI_1 = advert %v prio %d version %d", v1.AdvertInt, v1.Priority, v1.Version)
	}
	if v2.AdvertInt.D() != 120*time.Millisecond || v2.State != StateMaster {
		t.Errorf("VI_2 = advert %v state %s", v2.AdvertInt, v2.State)
	}
	if v1.VIPs[0].Pos.Line != 8 || v1.VIPs[0].Dev != "eth0" || v1.VIPs[0].Prefix.Bits() != 24 {
		t.Errorf("VIP = %+v", v1.VIPs[0])
	}
	if !strings.Contains(diags.String(), "test.conf:6: error:") {
		t.Errorf("no rounding diagnostic at line 6:\n%s", diags)
	}
}

func TestUnknownKeywordAndBraces(t *testing.T) {
	_, diags := parseString(t, "global_defs {\n  router_id x\n  bogus 1\n}\n}\n")
	want := []string{"test.conf:3: error: unknown keyword 'bogus'", "test.conf:5: error: unknown keyword '}'"}
	for _, w := range want {
		if !strings.Contains(diags.String(), w) {
			t.Errorf("missing %q in\n%s", w, diags)
		}
	}
}
