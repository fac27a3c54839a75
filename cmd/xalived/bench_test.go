package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

// writeBigConfig writes the benchmark configuration: 255 VRRP instances and
// 1,000 virtual servers with 10 real servers each, every real server with
// an HTTP_GET checker (10,000 real servers).
func writeBigConfig(tb testing.TB, dir string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id bench\n  dynamic_interfaces\n}\n")
	for i := 1; i <= 255; i++ {
		fmt.Fprintf(&b, `vrrp_instance VI_%d {
  state BACKUP
  interface eth0
  virtual_router_id %d
  priority %d
  advert_int 1
  virtual_ipaddress {
    198.51.100.%d/24
  }
}
`, i, i, 1+i%254, i%255)
	}
	for v := 0; v < 1000; v++ {
		fmt.Fprintf(&b, "virtual_server 203.0.%d.%d 80 {\n  delay_loop 5\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", 113+v/250, v%250+1)
		for r := 0; r < 10; r++ {
			fmt.Fprintf(&b, `  real_server 198.51.%d.%d 8080 {
    weight 1
    HTTP_GET {
      url {
        path /health
        status_code 200
      }
      connect_timeout 3
      retry 2
      delay_before_retry 2
    }
  }
`, 100+(v*10+r)/250, (v*10+r)%250+1)
		}
		b.WriteString("}\n")
	}
	p := filepath.Join(dir, "big.conf")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkConfigTest times `xalived -t` (the built binary) against
// `keepalived -t` on the same 10,000-real-server configuration in the same
// run, and reports the ratio keepalived/xalived (above 1: xalived faster).
func BenchmarkConfigTest(b *testing.B) {
	testenv.RequireCommand(b, "keepalived", "go")
	dir := b.TempDir()
	conf := writeBigConfig(b, dir)
	bin := filepath.Join(dir, "xalived")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	timeRun := func(name string, args ...string) time.Duration {
		start := time.Now()
		out, err := exec.Command(name, args...).CombinedOutput()
		d := time.Since(start)
		if err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return d
	}
	// One warm-up each (page cache, binary load).
	timeRun(bin, "-t", "-f", conf)
	timeRun("keepalived", "-t", "-f", conf)
	var xa, ka time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		xa += timeRun(bin, "-t", "-f", conf)
		ka += timeRun("keepalived", "-t", "-f", conf)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(xa.Seconds()/n*1000, "xalived-ms/op")
	b.ReportMetric(ka.Seconds()/n*1000, "keepalived-ms/op")
	b.ReportMetric(ka.Seconds()/xa.Seconds(), "keepalived/xalived")
}
