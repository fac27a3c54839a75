package config

import (
	"fmt"
	"strings"
	"testing"
)

func bigConfig() []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n  router_id bench\n  dynamic_interfaces\n}\n")
	for i := 1; i <= 255; i++ {
		fmt.Fprintf(&b, "vrrp_instance VI_%d {\n  interface eth0\n  virtual_router_id %d\n  virtual_ipaddress {\n    198.51.100.%d/24\n  }\n}\n", i, i, i%255)
	}
	for v := 0; v < 1000; v++ {
		fmt.Fprintf(&b, "virtual_server 203.0.%d.%d 80 {\n  delay_loop 5\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", 113+v/250, v%250+1)
		for r := 0; r < 10; r++ {
			fmt.Fprintf(&b, "  real_server 198.51.%d.%d 8080 {\n    weight 1\n    HTTP_GET {\n      url {\n        path /health\n        status_code 200\n      }\n      connect_timeout 3\n      retry 2\n      delay_before_retry 2\n    }\n  }\n", 100+(v*10+r)/250, (v*10+r)%250+1)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// BenchmarkParseLarge parses 255 instances and 10,000 real servers in
// process (the xalived -t comparison with keepalived is in cmd/xalived).
func BenchmarkParseLarge(b *testing.B) {
	data := bigConfig()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, _, err := Parse("big.conf", data, Options{ConfigID: "x"}); err != nil {
			b.Fatal(err)
		}
	}
}
