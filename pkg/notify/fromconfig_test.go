package notify

import (
	"slices"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
	"github.com/xalived/xalived/pkg/config"
)

func TestConfigFromGlobal(t *testing.T) {
	conf := `global_defs {
    router_id lb1
    notification_email {
        ops@example.com
        oncall@example.com
    }
    notification_email_from xalived@example.com
    smtp_server 198.51.100.25 2525
    smtp_helo_name lb1.example
    smtp_connect_timeout 7
    enable_script_security
    script_user nobody
    notify_fifo /run/xalived.fifo
    lvs_notify_fifo /run/lvs.fifo
    lvs_notify_fifo_script "/usr/local/bin/lvs-reader 'a b'"
}
`
	cfg, diags, err := config.Parse("g.conf", []byte(conf), config.Options{ConfigID: "lb1"})
	if cfg == nil {
		t.Fatalf("parse: %v %v", err, diags)
	}
	c, err := ConfigFromGlobal(cfg.Global)
	if err != nil {
		testenv.Skip(t, "needs a user nobody: %v", err)
	}
	s := c.SMTP
	if s.Server != "198.51.100.25:2525" || s.HeloName != "lb1.example" || s.From != "xalived@example.com" || s.RouterID != "lb1" ||
		s.ConnectTimeout != 7*time.Second || !slices.Equal(s.To, []string{"ops@example.com", "oncall@example.com"}) {
		t.Errorf("smtp %+v", s)
	}
	if !c.ScriptSecurity || c.ScriptUser == nil || c.ScriptUser.Uid == 0 {
		t.Errorf("script security %v user %+v", c.ScriptSecurity, c.ScriptUser)
	}
	if c.VRRPFIFO != "/run/xalived.fifo" || c.LVSFIFO != "/run/lvs.fifo" || c.LVSFIFOScript == nil ||
		!slices.Equal(c.LVSFIFOScript.Argv, []string{"/usr/local/bin/lvs-reader", "a b"}) {
		t.Errorf("fifos %q %q %+v", c.VRRPFIFO, c.LVSFIFO, c.LVSFIFOScript)
	}
}
