package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xalived/xalived/internal/testenv"
)

// TestScriptSecurity follows keepalived -t with enable_script_security: a
// root script that others can modify, or that sits in a directory others
// can write to (sticky directories excepted), is disabled with an error.
func TestScriptSecurity(t *testing.T) {
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "scripts")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "global_defs {\n dynamic_interfaces\n enable_script_security\n script_user root\n}\n" +
		"vrrp_script S {\n script " + script + "\n}\n" +
		"vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n track_script {\n  S\n }\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n"
	check := func(fileMode, dirMode os.FileMode, wantInsecure bool) {
		t.Helper()
		if err := os.Chmod(script, fileMode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			t.Fatal(err)
		}
		cfg, diags, _ := Parse(filepath.Join(dir, "k.conf"), []byte(conf), Options{ConfigID: "x", HostChecks: true})
		got := strings.Contains(diags.String(), "due to insecure permissions")
		if got != wantInsecure || (len(cfg.Scripts) == 0) != wantInsecure {
			t.Errorf("file %v dir %v: insecure %v, want %v:\n%s", fileMode, dirMode, got, wantInsecure, diags)
		}
	}
	check(0o755, 0o755, false)
	check(0o775, 0o755, false) // group root may write
	check(0o777, 0o755, true)
	check(0o755, 0o777, true)
	check(0o755, 0o777|os.ModeSticky, false)
}
