package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validConf = `global_defs {
  router_id test
  dynamic_interfaces
}
vrrp_instance VI_1 {
  interface xtest0
  virtual_router_id 51
  priority 150
  advert_int 1
  virtual_ipaddress {
    198.51.100.10/24
  }
}
`

const invalidConf = `global_defs {
  router_id test
  dynamic_interfaces
}
vrrp_instance VI_1 {
  interface xtest0
  virtual_router_id 51
  priority 300
  bogus_keyword
  virtual_ipaddress {
    198.51.100.10/24
  }
}
`

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFatal
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		args []string
		want func(o options) bool
	}{
		{nil, func(o options) bool {
			return o.ConfigFile == defaultConfigFile && !o.ConfigTest && o.BPFFS == "/sys/fs/bpf" && o.Dataplane == "auto" && o.RTPriority == -1 && rtPriority(o) == nil
		}},
		{[]string{"--vrrp-rt-priority=0"}, func(o options) bool { p := rtPriority(o); return p != nil && *p == 0 }},
		{[]string{"--vrrp-rt-priority", "20"}, func(o options) bool { p := rtPriority(o); return p != nil && *p == 20 }},
		{[]string{"-nlD", "-f", "/x.conf"}, func(o options) bool { return o.DontFork && o.LogConsole && o.LogDetail && o.ConfigFile == "/x.conf" }},
		{[]string{"--use-file=/y.conf", "--dont-fork", "--log-console", "--log-detail", "-P", "--check"}, func(o options) bool {
			return o.ConfigFile == "/y.conf" && o.DontFork && o.LogConsole && o.LogDetail && o.VRRPOnly && o.CheckOnly
		}},
		{[]string{"-t"}, func(o options) bool { return o.ConfigTest && o.TestOutput == "" }},
		{[]string{"--config-test=/tmp/out"}, func(o options) bool { return o.ConfigTest && o.TestOutput == "/tmp/out" }},
		{[]string{"-t", "-f", "/z.conf", "-i", "main"}, func(o options) bool { return o.ConfigTest && o.ConfigFile == "/z.conf" && o.ConfigID == "main" }},
		{[]string{"-p", "/run/x.pid", "-d", "--config-id", "b"}, func(o options) bool { return o.PidFile == "/run/x.pid" && o.DumpConf && o.ConfigID == "b" }},
		{[]string{"-n", "--debug-cpuprofile=/tmp/x.prof"}, func(o options) bool { return o.DontFork && o.CPUProfile == "/tmp/x.prof" }},
		{[]string{"--dump-config", "--name", "n1", "--control", "/run/c.sock", "--bpffs", "/run/bpf", "--dataplane", "socket", "--xdp-mode", "generic", "--ready-file", "/run/r"}, func(o options) bool {
			return o.ReadyFile == "/run/r" && o.DumpConfig && o.Name == "n1" && o.Control == "/run/c.sock" && o.BPFFS == "/run/bpf" && o.Dataplane == "socket" && o.XDPMode == "generic"
		}},
	}
	for _, c := range cases {
		o, err := parseOptions(c.args, &bytes.Buffer{})
		if err != nil {
			t.Errorf("%v: %v", c.args, err)
			continue
		}
		if !c.want(o) {
			t.Errorf("%v: got %+v", c.args, o)
		}
	}
	for _, bad := range [][]string{{"--dataplane", "dpdk"}, {"--xdp-mode", "x"}, {"--no-such-flag"}, {"extra-arg"}, {"--debug-cpuprofile="}, {"--vrrp-rt-priority=100"}, {"--vrrp-rt-priority=-2"}} {
		if _, err := parseOptions(bad, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestConfigTest(t *testing.T) {
	var stderr bytes.Buffer
	if err := run([]string{"-t", "-f", writeConf(t, validConf)}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("valid file: %v\n%s", err, stderr.String())
	}

	stderr.Reset()
	path := writeConf(t, invalidConf)
	err := run([]string{"-t", "-f", path}, &bytes.Buffer{}, &stderr)
	if exitCode(err) != exitConfigError {
		t.Fatalf("invalid file: exit %d (%v), want %d", exitCode(err), err, exitConfigError)
	}
	for _, want := range []string{path + ":8: error: number '300' outside range [1, 255]", path + ":9: error: unknown keyword 'bogus_keyword'"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("missing %q in\n%s", want, stderr.String())
		}
	}

	stderr.Reset()
	err = run([]string{"-t", "-f", filepath.Join(t.TempDir(), "missing.conf")}, &bytes.Buffer{}, &stderr)
	if exitCode(err) != exitNoConfig {
		t.Fatalf("missing file: exit %d (%v), want %d", exitCode(err), err, exitNoConfig)
	}

	out := filepath.Join(t.TempDir(), "report")
	err = run([]string{"--config-test=" + out, "-f", path}, &bytes.Buffer{}, &bytes.Buffer{})
	if exitCode(err) != exitConfigError {
		t.Fatalf("--config-test=FILE: exit %d", exitCode(err))
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "unknown keyword 'bogus_keyword'") {
		t.Errorf("report file lacks the problem: %q", b)
	}
}

func TestDumpConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"--dump-config", "-f", writeConf(t, validConf)}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var m struct {
		Instances []struct {
			Name      string `json:"name"`
			VRID      int    `json:"virtual_router_id"`
			Priority  int    `json:"priority"`
			AdvertInt string `json:"advert_int"`
			State     string `json:"state"`
		} `json:"vrrp_instances"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if len(m.Instances) != 1 || m.Instances[0].VRID != 51 || m.Instances[0].Priority != 150 || m.Instances[0].AdvertInt != "1s" || m.Instances[0].State != "BACKUP" {
		t.Errorf("dump = %+v", m)
	}
}

func TestConfigTestSecurityExit(t *testing.T) {
	conf := "global_defs {\n  dynamic_interfaces\n  script_user root\n}\nvrrp_script chk {\n  script \"/bin/sh -c true\"\n}\n" +
		"vrrp_instance VI_1 {\n  interface xtest0\n  virtual_router_id 1\n  track_script {\n    chk\n  }\n  virtual_ipaddress {\n    198.51.100.1\n  }\n}\n"
	var stderr bytes.Buffer
	err := run([]string{"-t", "-f", writeConf(t, conf)}, &bytes.Buffer{}, &stderr)
	if exitCode(err) != exitSecurity || !strings.Contains(stderr.String(), "SECURITY VIOLATION") {
		t.Fatalf("exit %d, want %d:\n%s", exitCode(err), exitSecurity, stderr.String())
	}
}
