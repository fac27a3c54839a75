package config_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xalived/xalived/pkg/check"
	"github.com/xalived/xalived/pkg/config"
)

// keepalived reads UDP_CHECK payload and require_reply as one HEX_STR of several groups; every
// group must survive the parse so that the checker sends (and expects) every byte.
func TestUDPCheckHexGroups(t *testing.T) {
	const tmpl = "virtual_server 198.51.100.10 53 {\n lb_algo rr\n lb_kind NAT\n protocol UDP\n" +
		" real_server 198.51.100.11 53 {\n  UDP_CHECK {\n   payload %s\n   require_reply %s\n  }\n }\n}\n"
	for _, tc := range []struct {
		payload, reply       string
		wantP, wantR         string
		wantBytes, wantReply []byte
		wantMask             []byte
	}{
		{"Ab12f 3 456", "0aXX 0c", "Ab12f 3 456", "0aXX 0c",
			[]byte{0xab, 0x12, 0x0f, 0x03, 0x45, 0x06}, []byte{0x0a, 0x00, 0x0c}, []byte{0xff, 0x00, 0xff}},
		{"0a0b", "0a0b", "0a0b", "0a0b", []byte{0x0a, 0x0b}, []byte{0x0a, 0x0b}, []byte{0xff, 0xff}},
	} {
		cfg, diags, err := config.Parse("udp.conf", fmt.Appendf(nil, tmpl, tc.payload, tc.reply), config.Options{})
		if err != nil || diags.HasErrors() {
			t.Fatalf("%q: %v %v", tc.payload, err, diags)
		}
		u := cfg.VirtualServers[0].RealServers[0].Checkers[0].UDP
		if u.Payload != tc.wantP || u.RequireReply == nil || *u.RequireReply != tc.wantR {
			t.Fatalf("payload %q require_reply %v, want %q %q", u.Payload, u.RequireReply, tc.wantP, tc.wantR)
		}
		data, _, err := check.ParseHex(u.Payload, false)
		if err != nil || !bytes.Equal(data, tc.wantBytes) {
			t.Errorf("payload bytes % x (%v), want % x", data, err, tc.wantBytes)
		}
		data, mask, err := check.ParseHex(*u.RequireReply, true)
		if err != nil || !bytes.Equal(data, tc.wantReply) || !bytes.Equal(mask, tc.wantMask) {
			t.Errorf("require_reply % x / % x (%v), want % x / % x", data, mask, err, tc.wantReply, tc.wantMask)
		}
	}
	// A bad group anywhere is an error naming it.
	_, diags, _ := config.Parse("udp.conf", fmt.Appendf(nil, tmpl, "0a zz", "0a"), config.Options{})
	if !diags.HasErrors() || !bytes.Contains([]byte(diags.String()), []byte("'zz' is not hex")) {
		t.Errorf("bad payload group accepted: %v", diags)
	}
}
