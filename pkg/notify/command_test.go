package notify

import (
	"errors"
	"slices"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"/x.sh", []string{"/x.sh"}},
		{"  /x.sh   a  b ", []string{"/x.sh", "a", "b"}},
		{"/x.sh 'a b' c", []string{"/x.sh", "a b", "c"}},
		{`/x.sh "a b" c`, []string{"/x.sh", "a b", "c"}},
		{`/x.sh a\ b`, []string{"/x.sh", "a b"}},
		{`/x.sh 'it''s'`, []string{"/x.sh", "its"}},
		{`/x.sh "say \"hi\""`, []string{"/x.sh", `say "hi"`}},
		{`/x.sh 'a\b'`, []string{"/x.sh", `a\b`}},
		{`/x.sh ''`, []string{"/x.sh", ""}},
		{"/x.sh a|b >out; $HOME", []string{"/x.sh", "a|b", ">out;", "$HOME"}},
		{"/bin/sh -c 'echo a | tr a b'", []string{"/bin/sh", "-c", "echo a | tr a b"}},
	} {
		got, err := SplitCommand(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "   ", "/x 'open", `/x "open`, `/x \`} {
		if got, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := SplitCommand(" "); !errors.Is(err, ErrEmptyCommand) {
		t.Errorf("blank command: %v, want ErrEmptyCommand", err)
	}
}

func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"/x.sh a 'b c'", `"\"`, "a\\", "'", "x y z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitCommand(s)
		if err == nil && len(args) == 0 {
			t.Fatalf("SplitCommand(%q): no error and no words", s)
		}
	})
}

func TestLines(t *testing.T) {
	vs := ServiceName("203.0.113.10", "tcp", 80)
	rs := ServiceName("198.51.100.2", "tcp", 8080)
	for _, tc := range []struct{ got, want string }{
		{InstanceLine("VI_1", StateMaster, 100), `INSTANCE "VI_1" MASTER 100`},
		{GroupLine("G", StateBackup), `GROUP "G" BACKUP 0`},
		{VSLine(vs, true), `VS [203.0.113.10]:tcp:80 UP`},
		{RSLine(rs, vs, false), `RS [198.51.100.2]:tcp:8080 [203.0.113.10]:tcp:80 DOWN`},
		{VSLine(FWMarkName(7), false), `VS FWM 7 DOWN`},
		{ServiceName("2001:db8::1", "udp", 53), `[2001:db8::1]:udp:53`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		m             Mail
		subject, body string
	}{
		{VRRPMail("lb1", "VI_1", StateMaster), "[lb1] VRRP Instance VI_1 - Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		{VRRPMail("lb1", "VI_1", StateBackup), "[lb1] VRRP Instance VI_1 - Entering BACKUP state", "=> VRRP Instance is nolonger owning VRRP VIPs <="},
		{GroupMail("lb1", "G", StateMaster), "[lb1] VRRP Group G - Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="},
		{RealServerMail("lb1", rs, vs, false, "TCP", ""), "[lb1] Realserver [198.51.100.2]:tcp:8080 of virtual server [203.0.113.10]:tcp:80 - DOWN", "=> TCP CHECK failed on service <="},
		{RealServerMail("lb1", rs, vs, true, "", ""), "[lb1] Realserver [198.51.100.2]:tcp:8080 of virtual server [203.0.113.10]:tcp:80 - UP", "=> CHECK succeed on service <="},
	} {
		if tc.m.Subject != tc.subject || tc.m.Body != tc.body {
			t.Errorf("mail %+v, want subject %q body %q", tc.m, tc.subject, tc.body)
		}
	}
}
