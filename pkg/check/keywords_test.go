package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/config"
)

// riseConf is a one-real-server configuration whose TCP_CHECK carries extra (our keywords).
func riseConf(checker, extra string) string {
	return fmt.Sprintf(`virtual_server 203.0.113.10 80 {
    delay_loop 10
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.2 80 {
        weight 1
        %s {
            retry 1
            delay_before_retry 1
%s
        }
    }
}
`, checker, extra)
}

// specFromText parses a configuration and returns the resolved spec of its only checker.
func specFromText(t *testing.T, text string) (Spec, string) {
	t.Helper()
	cfg, diags, err := config.Parse("rise.conf", []byte(text), config.Options{ConfigID: "t"})
	if err != nil {
		return Spec{}, diags.String()
	}
	vss, _, err := FromConfig(cfg)
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	vs := &vss[0]
	rs := &vs.RealServers[0]
	return resolve(vs, rs, rs.Checkers[0]), diags.String()
}

// Our `rise N` keyword, from the configuration text to the up/down sequence, with the injected
// clock of sim: without it the sequence is keepalived's (up after one success); with it a DOWN
// real server needs N consecutive successes, so a flapping backend stays out.
func TestRiseKeyword(t *testing.T) {
	s := time.Second
	// A backend that flaps, run by run: 0 +, 10 - (retried at 11: +, a blip), 21 -, 22 - DOWN,
	// then on the 10 s grid from 22. keepalived: 32 + UP, 42 - (retry 43 -) DOWN, 53 + UP,
	// 63 - (retry 64 +, a blip). rise 2: 32 + (1 of 2), 42 -, 52 -, 62 + (1), 72 -, 82 + (1),
	// 92 + UP. rise 3: 102 + UP.
	flap := seq("+-+--+--+-++++")
	for _, tc := range []struct {
		name, extra string
		want        []string
	}{
		{"keepalived (no rise)", "", []string{"22s DOWN 1", "32s UP 1", "43s DOWN 1", "53s UP 1"}},
		{"rise 1 is keepalived", "rise 1", []string{"22s DOWN 1", "32s UP 1", "43s DOWN 1", "53s UP 1"}},
		{"rise 2", "rise 2", []string{"22s DOWN 1", "92s UP 1"}},
		{"rise 3", "rise 3", []string{"22s DOWN 1", "102s UP 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sp, diags := specFromText(t, riseConf("TCP_CHECK", tc.extra))
			if diags != "" {
				t.Fatalf("diagnostics: %s", diags)
			}
			if got := sim([]Common{sp.Common}, 1, 0, 125*s, flap); !slices.Equal(got, tc.want) {
				t.Fatalf("transitions %q, want %q", got, tc.want)
			}
		})
	}
	// alpha starts DOWN: keepalived's first success brings it UP; with rise 2 the second does.
	for _, tc := range []struct {
		extra string
		want  []string
	}{{"alpha", []string{"0s UP 1"}}, {"alpha\nrise 2", []string{"10s UP 1"}}} {
		sp, _ := specFromText(t, riseConf("TCP_CHECK", tc.extra))
		if got := sim([]Common{sp.Common}, 1, 0, 25*s, seq("+")); !slices.Equal(got, tc.want) {
			t.Errorf("%q: transitions %q, want %q", tc.extra, got, tc.want)
		}
	}

	// Where rise is accepted, and what bad values give.
	for _, tc := range []struct {
		name, checker, extra, diag string
		rise                       int
	}{
		{"HTTP_GET", "HTTP_GET", "rise 4\nurl {\npath /\n}", "", 4},
		{"MISC_CHECK", "MISC_CHECK", "rise 2\nmisc_path /bin/true", "", 2},
		{"PING_CHECK", "PING_CHECK", "rise 5", "", 5},
		{"zero", "TCP_CHECK", "rise 0", "rise", 0},
		{"not a number", "TCP_CHECK", "rise often", "rise", 0},
		{"missing value", "TCP_CHECK", "rise", "rise", 0},
		{"FILE_CHECK has no up/down", "FILE_CHECK", "track_file F\nrise 2", "unknown keyword 'rise'", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := riseConf(tc.checker, tc.extra)
			if tc.checker == "FILE_CHECK" {
				text = "track_file F {\n    file /tmp/xalived-rise-test\n}\n" + text
			}
			cfg, diags, _ := config.Parse("rise.conf", []byte(text), config.Options{ConfigID: "t"})
			if tc.diag != "" {
				if !strings.Contains(diags.String(), tc.diag) {
					t.Fatalf("diagnostics %q lack %q", diags.String(), tc.diag)
				}
				return
			}
			if cfg == nil || diags.String() != "" {
				t.Fatalf("diagnostics: %s", diags)
			}
			vss, _, err := FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := vss[0].RealServers[0].Checkers[0].Rise; got != tc.rise {
				t.Fatalf("rise %d, want %d", got, tc.rise)
			}
		})
	}
}

// rise in an SMTP_CHECK host block is refused: it belongs to the checker, not to one host.
func TestRiseNotInSMTPHost(t *testing.T) {
	text := riseConf("SMTP_CHECK", "host {\nconnect_ip 198.51.100.2\nrise 2\n}")
	_, diags, _ := config.Parse("rise.conf", []byte(text), config.Options{ConfigID: "t"})
	if !strings.Contains(diags.String(), "unknown keyword 'rise'") {
		t.Fatalf("diagnostics %q", diags.String())
	}
}
