package config

import (
	"strings"
	"testing"
)

// TestExpansionLimits checks that hostile repetition and substitution end
// with an error diagnostic instead of exhausting time or memory.
func TestExpansionLimits(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"seq too long", "~SEQ(A,1,100000000) x $A\n", "expands to more than"},
		{"seq producing nothing", "~SEQ(A,1,1000000000) ~SEQ(B,1,0) x\n", "more than"},
		{"self-doubling parameter", "$A=${A}${A}x\n$A\n", "longer than"},
		{"recursive multi-line definition", "$A= \\\n$A \\\n$A\n$A\n", "nested deeper"},
		{"unclosed blocks", strings.Repeat("vrrp_instance X {\n", 1) + strings.Repeat("authentication {\n", 100), "missing '}'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags, err := Parse("/limits/x.conf", []byte(c.text), Options{ConfigID: "x", FS: memFS{}, MaxLines: 10000})
			if err == nil || !strings.Contains(diags.String(), c.want) {
				t.Fatalf("want an error containing %q, got %v:\n%s", c.want, err, diags)
			}
		})
	}
}

// TestIncludeLoopAndDepth checks that a file including itself is reported
// once and that nesting is bounded.
func TestIncludeLoopAndDepth(t *testing.T) {
	fs := memFS{
		"/inc/main.conf": []byte("include self.conf\n"),
		"/inc/self.conf": []byte("include self.conf\nglobal_defs {\n router_id x\n}\n"),
	}
	cfg, diags, _ := ParseFile("/inc/main.conf", Options{ConfigID: "x", FS: fs})
	if !strings.Contains(diags.String(), "include loop") || cfg.Global.RouterID != "x" {
		t.Fatalf("router_id %q, diags:\n%s", cfg.Global.RouterID, diags)
	}
	if len(cfg.Files) != 2 {
		t.Errorf("files read: %v", cfg.Files)
	}
}
