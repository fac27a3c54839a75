package check

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/pkg/config"
)

func TestFromConfigEveryChecker(t *testing.T) {
	cfg, diags, err := config.ParseFile("testdata/checkers.conf", config.Options{ConfigID: "lb1"})
	if err != nil {
		t.Fatalf("parse: %v\n%v", err, diags)
	}
	vss, warnings, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 || len(vss) != 2 {
		t.Fatalf("%d virtual servers, warnings %v", len(vss), warnings)
	}
	vs := vss[0]
	if vs.Key.String() != "[203.0.113.10]:tcp:80" || vss[1].Key.String() != "FWM 9" {
		t.Fatalf("keys %s, %s", vs.Key, vss[1].Key)
	}
	rs := vs.RealServers[0]
	if rs.Weight != 5 || !slices.Equal(rs.NotifyUp.Argv, []string{"/usr/local/bin/rs.sh", "up", "a b"}) || !slices.Equal(rs.NotifyDown.Argv, []string{"/usr/local/bin/rs.sh"}) {
		t.Fatalf("real server %+v up %v down %v", rs, rs.NotifyUp, rs.NotifyDown)
	}
	kinds := []Kind{}
	byKind := map[Kind]Spec{}
	for _, c := range rs.Checkers {
		kinds = append(kinds, c.Kind)
		byKind[c.Kind] = resolve(&vs, &rs, c)
	}
	if want := []Kind{HTTP, SSL, TCP, MISC, SMTP, DNS, UDP, PING, FILE}; !slices.Equal(kinds, want) {
		t.Fatalf("checkers %v, want %v", kinds, want)
	}
	h := byKind[HTTP]
	if len(h.HTTP.URLs) != 2 || h.HTTP.URLs[0].Digest != "9b3a0c85a887a256d6939da88aabd8cd" ||
		!slices.Equal(h.HTTP.URLs[0].StatusCodes, []StatusRange{{200, 299}, {503, 503}}) ||
		h.HTTP.URLs[1].Regex == nil || !h.HTTP.URLs[1].RegexNoMatch || h.HTTP.Protocol != "1.1" || h.HTTP.VirtualHost != "www.example" {
		t.Errorf("HTTP_GET %+v", h.HTTP)
	}
	if h.ConnectTimeout != 3*time.Second || *h.Retry != 4 || *h.DelayBeforeRetry != 500*time.Millisecond || h.FWMark != 7 ||
		h.BindTo != netip.MustParseAddr("198.51.100.1") || h.BindPort != 40000 || h.DelayLoop != 2*time.Second || h.ConnectPort != 8080 || h.Rise != 1 {
		t.Errorf("HTTP_GET common %+v", h.Common)
	}
	if s := byKind[SSL]; !s.HTTP.EnableSNI || s.HTTP.SNIName != "api.example" || *s.DelayBeforeRetry != 3*time.Second {
		t.Errorf("SSL_GET %+v %v", s.HTTP, *s.DelayBeforeRetry)
	}
	if c := byKind[TCP]; c.ConnectPort != 8081 || c.ConnectIP != netip.MustParseAddr("198.51.100.3") || *c.Warmup != 0 || !*c.Alpha || *c.Retry != 1 || c.Rise != 3 {
		t.Errorf("TCP_CHECK %+v", c.Common)
	}
	if m := byKind[MISC]; !slices.Equal(m.Misc.Argv, []string{"/usr/local/bin/check.sh", "--deep", "x y"}) || m.Misc.Timeout != 7*time.Second || !m.Misc.Dynamic || *m.Retry != 0 {
		t.Errorf("MISC_CHECK %+v retry %d", m.Misc, *m.Retry)
	}
	if s := byKind[SMTP]; s.SMTP.HeloName != "lb1.example" || len(s.SMTP.Hosts) != 2 || s.SMTP.Hosts[0].ConnectPort != 2525 ||
		s.SMTP.Hosts[1].ConnectIP != netip.MustParseAddr("198.51.100.5") {
		t.Errorf("SMTP_CHECK %+v", s.SMTP)
	}
	if d := byKind[DNS]; d.DNS.Type != "A" || d.DNS.Name != "web.example" || *d.Retry != 3 {
		t.Errorf("DNS_CHECK %+v retry %d", d.DNS, *d.Retry)
	}
	if u := byKind[UDP]; !slices.Equal(u.UDP.Payload, []byte{1, 2, 3}) || !u.UDP.RequireReply || !slices.Equal(u.UDP.ReplyMask, []byte{0xff, 0xf0}) || u.UDP.MinReplyLength != 2 || u.UDP.MaxReplyLength != 100 {
		t.Errorf("UDP_CHECK %+v", u.UDP)
	}
	if f := byKind[FILE]; f.File.Path != "/run/xalived-test-track" || f.File.Weight != 2 || !f.File.Reverse || !f.File.Dynamic || f.File.Init == nil || *f.File.Init != 3 {
		t.Errorf("FILE_CHECK %+v", f.File)
	}
	// The scheduler accepts the whole set.
	if _, err := New(vss, Config{}); err != nil {
		t.Fatalf("New: %v", err)
	}
}

// corpusDir is the config package's corpus of real-world configurations (shared, not copied).
const corpusDir = "../config/testdata/corpus"

// Every real-world configuration with real servers that the config package accepts maps
// without error.
func TestFromConfigCorpus(t *testing.T) {
	files, _ := filepath.Glob(corpusDir + "/*.conf")
	samples, _ := filepath.Glob(corpusDir + "/upstream-samples/*.conf")
	files = append(files, samples...)
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	mapped := 0
	for _, f := range files {
		cfg, _, _ := config.ParseFile(f, config.Options{ConfigID: "lb1"})
		if cfg == nil {
			continue // unreadable: nothing to map
		}
		vss, _, err := FromConfig(cfg)
		if err != nil {
			if strings.Contains(err.Error(), "user") { // script users that do not exist here
				continue
			}
			t.Errorf("%s: %v", f, err)
			continue
		}
		if _, err := New(vss, Config{}); err != nil {
			t.Errorf("%s: New: %v", f, err)
		}
		mapped++
	}
	t.Logf("%d of %d corpus files mapped", mapped, len(files))
	if _, err := os.Stat(corpusDir + "/SOURCES.md"); err != nil {
		t.Error("corpus without its SOURCES.md")
	}
}
