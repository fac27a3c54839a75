package notify

import (
	"io"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/nstest"
	"github.com/xalived/xalived/internal/testenv"
)

// innerEnv names the test a re-executed test binary runs inside a network namespace.
const innerEnv = "XALIVED_NOTIFY_INNER"

// inNetns re-runs the calling test inside ns (the whole process, so every socket it opens lives
// there) and reports the inner run. It returns true in the inner process, which runs the body.
func inNetns(t *testing.T, ns *nstest.NS, env ...string) {
	t.Helper()
	cmd := ns.Cmd(os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), innerEnv+"="+t.Name()), env...)
	out, err := cmd.CombinedOutput()
	t.Logf("inside %s:\n%s", ns.Name, out)
	if err != nil {
		t.Fatalf("inner test in %s: %v", ns.Name, err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("inner test in %s did not pass", ns.Name)
	}
}

func isInner(t *testing.T) bool { return os.Getenv(innerEnv) == t.Name() }

const aiosmtpdPython = "/usr/bin/python3"

// startSMTPServer starts Debian's aiosmtpd in ns on addr, delivering into a Maildir.
func startSMTPServer(t *testing.T, ns *nstest.NS, addr string) string {
	t.Helper()
	if out, err := exec.Command(aiosmtpdPython, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		testenv.Skip(t, "needs python3-aiosmtpd (make deps): %s", out)
	}
	maildir := filepath.Join(t.TempDir(), "Maildir")
	ns.Start(t, aiosmtpdPython, "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox", maildir)
	nstest.WaitFor(t, 10*time.Second, "aiosmtpd listening on "+addr, func() bool {
		out, _ := ns.Run("ss", "-Hltn")
		return strings.Contains(out, addr)
	})
	return maildir
}

func readMaildir(t *testing.T, maildir string, n int) []*mail.Message {
	t.Helper()
	var msgs []*mail.Message
	nstest.WaitFor(t, 20*time.Second, "mails in "+maildir, func() bool {
		ents, _ := os.ReadDir(filepath.Join(maildir, "new"))
		if len(ents) < n {
			return false
		}
		msgs = msgs[:0]
		for _, e := range ents {
			f, err := os.Open(filepath.Join(maildir, "new", e.Name()))
			if err != nil {
				return false
			}
			m, err := mail.ReadMessage(f)
			f.Close()
			if err != nil {
				return false
			}
			msgs = append(msgs, m)
		}
		return true
	})
	return msgs
}

// SMTP alerts reach a real SMTP server (aiosmtpd) with keepalived's subject, headers and body;
// an alert sent while the server is down is retried and arrives once it is up.
func TestSMTPAlertsRealServer(t *testing.T) {
	const addr = "198.51.100.25:2525"
	if isInner(t) {
		cfg := Config{
			SMTP: SMTPConfig{
				Server: addr, HeloName: "lb1.example", From: "xalived@example.com",
				To: []string{"ops@example.com", "oncall@example.com"}, ConnectTimeout: 3 * time.Second, RouterID: "lb1",
			},
			MailBackoff: 200 * time.Millisecond, MailRetries: 20,
		}
		d := startDispatcher(t, cfg)
		d.VRRP(VRRPEvent{Name: "VI_1", State: StateMaster, Priority: 100, Mail: true}, VRRPScripts{})
		d.RealServer(RealServerEvent{RS: ServiceName("198.51.100.2", "tcp", 80), VS: ServiceName("203.0.113.10", "tcp", 80), Up: false, Mail: true, Checker: "TCP"})
		deadline := time.Now().Add(20 * time.Second)
		for d.Stats().Mail.Delivered < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("mails not delivered: %+v", d.Stats())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return
	}
	testenv.RequireRoot(t)
	ns := nstest.New(t, "smtp")
	nstest.Veth(t, ns, "a0", ns, "a1") // an address of our own, inside the namespace only
	ns.MustRun(t, "ip", "addr", "add", "198.51.100.25/24", "dev", "a0")
	maildir := startSMTPServer(t, ns, addr)
	inNetns(t, ns)
	msgs := readMaildir(t, maildir, 2)
	bySubject := map[string]*mail.Message{}
	for _, m := range msgs {
		bySubject[m.Header.Get("Subject")] = m
	}
	for subject, body := range map[string]string{
		"[lb1] VRRP Instance VI_1 - Entering MASTER state":                                      "=> VRRP Instance is now owning VRRP VIPs <=",
		"[lb1] Realserver [198.51.100.2]:tcp:80 of virtual server [203.0.113.10]:tcp:80 - DOWN": "=> TCP CHECK failed on service <=",
	} {
		m, ok := bySubject[subject]
		if !ok {
			t.Fatalf("no mail with subject %q; got %v", subject, keys(bySubject))
		}
		b := new(strings.Builder)
		_, _ = io.Copy(b, m.Body)
		if strings.TrimSpace(b.String()) != body {
			t.Errorf("%q: body %q, want %q", subject, b.String(), body)
		}
		if m.Header.Get("From") != "xalived@example.com" || m.Header.Get("To") != "ops@example.com, oncall@example.com" || m.Header.Get("X-Mailer") != "Keepalived" {
			t.Errorf("%q: headers %v", subject, m.Header)
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("%q: Date header: %v", subject, err)
		}
	}
}

// Mail to a server that is not there yet is retried without blocking, and arrives once the
// real server (aiosmtpd) is started.
func TestSMTPRetry(t *testing.T) {
	const addr = "127.0.0.1:2525" // the namespace's own loopback
	if !isInner(t) {
		testenv.RequireRoot(t)
		if out, err := exec.Command(aiosmtpdPython, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
			testenv.Skip(t, "needs python3-aiosmtpd (make deps): %s", out)
		}
		inNetns(t, nstest.New(t, "smtpr"))
		return
	}
	var errs []error
	var mu sync.Mutex
	d := startDispatcher(t, Config{
		SMTP:        SMTPConfig{Server: addr, To: []string{"a@example.com"}, ConnectTimeout: time.Second, RouterID: "lb1"},
		MailBackoff: 100 * time.Millisecond, MailRetries: 30,
		OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() },
	})
	start := time.Now()
	d.VRRP(VRRPEvent{Name: "VI_1", State: StateBackup, Priority: 90, Mail: true}, VRRPScripts{})
	if took := time.Since(start); took > time.Second {
		t.Fatalf("queuing a mail took %v", took)
	}
	time.Sleep(300 * time.Millisecond) // a few refused tries
	if d.Stats().Mail.Delivered != 0 {
		t.Fatal("delivered without a server")
	}
	maildir := filepath.Join(t.TempDir(), "Maildir")
	cmd := exec.Command(aiosmtpdPython, "-m", "aiosmtpd", "-n", "-l", addr, "-c", "aiosmtpd.handlers.Mailbox", maildir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	msgs := readMaildir(t, maildir, 1)
	if got := msgs[0].Header.Get("Subject"); got != "[lb1] VRRP Instance VI_1 - Entering BACKUP state" {
		t.Fatalf("subject %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 0 {
		t.Fatalf("errors although the mail was delivered: %v", errs)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
