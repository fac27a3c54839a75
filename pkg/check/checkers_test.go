package check

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xalived/xalived/internal/testenv"
)

const okBody = "hello from the real server\n"

// selfSigned makes a certificate for "www.example" valid now.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "www.example"}, DNSNames: []string{"www.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// servers are the Go test servers of the inner process.
type servers struct {
	mu    sync.Mutex
	sni   []string
	peers []string
}

func listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// acceptAndHold accepts connections and never answers (a hung application, or a TLS server
// that stalls its handshake).
func acceptAndHold(t testing.TB, ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
}

// slowLoris answers with a status line and then one header byte every 100 ms, forever.
func slowLoris(t testing.TB, ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 1024)
				_, _ = c.Read(buf)
				if _, err := c.Write([]byte("HTTP/1.0 200 OK\r\nX-Slow: ")); err != nil {
					return
				}
				for i := 0; i < 600; i++ {
					time.Sleep(100 * time.Millisecond)
					if _, err := c.Write([]byte("a")); err != nil {
						return
					}
				}
			}()
		}
	}()
}

func (s *servers) start(t testing.TB) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(okBody)) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/vhost", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "www.example" || r.Proto != "HTTP/1.1" || r.Header.Get("Connection") != "close" {
			http.Error(w, fmt.Sprintf("host %q proto %s", r.Host, r.Proto), 404)
			return
		}
		_, _ = w.Write([]byte(okBody))
	})
	// /chunked flushes its body in two parts: chunked to HTTP/1.1, until close to HTTP/1.0.
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(okBody))
		w.(http.Flusher).Flush()
		_, _ = w.Write([]byte(okBody))
	})
	// /stall sends its headers and half of its body, then nothing for 5 s.
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(2*len(okBody)))
		_, _ = w.Write([]byte(okBody))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	// /short promises more body than it sends, then closes.
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		c, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_, _ = bw.WriteString("HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\n" + okBody)
		_ = bw.Flush()
		_ = c.Close()
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln4, ln6 := listen(t, "tcp", serverIP4+":8080"), listen(t, "tcp", "["+serverIP6+"]:8080")
	go func() { _ = srv.Serve(ln4) }()
	go func() { _ = srv.Serve(ln6) }()
	cert := selfSigned(t)
	tlsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			s.mu.Lock()
			s.sni = append(s.sni, h.ServerName)
			s.mu.Unlock()
			return nil, nil
		},
	}}
	lnTLS := listen(t, "tcp", serverIP4+":8443")
	go func() { _ = tlsSrv.ServeTLS(lnTLS, "", "") }()
	t.Cleanup(func() { srv.Close(); tlsSrv.Close() })
	acceptAndHold(t, listen(t, "tcp", serverIP4+":8081")) // HTTP that never answers
	slowLoris(t, listen(t, "tcp", serverIP4+":8082"))
	acceptAndHold(t, listen(t, "tcp", serverIP4+":8444")) // TLS handshake that stalls
	acceptAndHold(t, listen(t, "tcp", serverIP4+":2526")) // SMTP without a banner
	// 8095 records the source address of each connection (bindto, bind_port).
	peers := listen(t, "tcp", serverIP4+":8095")
	go func() {
		for {
			c, err := peers.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.peers = append(s.peers, c.RemoteAddr().String())
			s.mu.Unlock()
			c.Close()
		}
	}()

	// UDP echo on 9000 (replies "EC" + the payload), a silent UDP socket on 9001.
	echo, err := net.ListenPacket("udp", serverIP4+":9000")
	if err != nil {
		t.Fatal(err)
	}
	silent, err := net.ListenPacket("udp", serverIP4+":9001")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { echo.Close(); silent.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, a, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = echo.WriteTo(append([]byte{0xec, byte(n)}, buf[:n]...), a)
		}
	}()
}

func (s *servers) sniSeen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{}, s.sni...)
}

// probeOnce builds a one-checker scheduler (so the spec is resolved and validated exactly as in
// production) and runs its probe once, timing it.
func probeOnce(t testing.TB, rsAddr string, port uint16, sp Spec) (Outcome, time.Duration, error) {
	t.Helper()
	vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"},
		RealServers: []RealServer{{Addr: netip.MustParseAddr(rsAddr), Port: port, Weight: 1, Checkers: []Spec{sp}}}}
	s, err := New([]VirtualServer{vs}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ck := s.rss[0].checkers[0]
	start := time.Now()
	o, err := s.probe(context.Background(), ck)
	took := time.Since(start)
	if o.reap != nil {
		o.reap()
	}
	if err != nil {
		o.OK = false
	}
	return o, took, err
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

const timeout = time.Second

func tc(kind Kind) Spec { return Spec{Kind: kind, Common: Common{ConnectTimeout: timeout}} }

func httpSpec(kind Kind, port uint16, urls ...URL) Spec {
	s := tc(kind)
	s.ConnectPort = port
	s.HTTP = &HTTPSpec{URLs: urls}
	return s
}

// TestCheckersAgainstRealServers runs every checker against real servers in a namespace (Go
// HTTP/TLS servers, Debian's aiosmtpd and dnsmasq, a UDP echo, the kernel's ICMP), once healthy
// and once per failure mode, and measures how long each failure takes to be declared.
func TestCheckersAgainstRealServers(t *testing.T) {
	if !isInner(t) {
		testenv.RequireRoot(t)
		testenv.RequireCommand(t, "dnsmasq", "ss")
		if out, err := exec.Command("/usr/bin/python3", "-c", "import aiosmtpd").CombinedOutput(); err != nil {
			testenv.Skip(t, "needs python3-aiosmtpd (make deps): %s", out)
		}
		ns := topology(t)
		ns.Start(t, "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file",
			"--bind-interfaces", "--listen-address="+serverIP4, "--port=53", "--user=root",
			"--host-record=web.example,198.51.100.80", "--txt-record=web.example,hello")
		ns.Start(t, "/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l", serverIP4+":25", "-c", "aiosmtpd.handlers.Sink")
		waitListening(t, ns, "-lun", serverIP4+":53")
		waitListening(t, ns, "-ltn", serverIP4+":25")
		out := inNetns(t, ns)
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "FAILMODE") {
				t.Log(strings.TrimSpace(l))
			}
		}
		return
	}
	srv := &servers{}
	srv.start(t)
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pidFile := filepath.Join(dir, "stubborn.pid")
	stubborn := script("stubborn.sh", "trap '' TERM\necho $$ > "+pidFile+"\nsleep 60 &\nwhile :; do sleep 0.05; done\n")
	trackFile := filepath.Join(dir, "track")
	_ = os.WriteFile(trackFile, []byte("0\n"), 0o644)
	trackBad := filepath.Join(dir, "track-bad")
	_ = os.WriteFile(trackBad, []byte("5\n"), 0o644)

	misc := func(path string, dynamic bool, to time.Duration) Spec {
		return Spec{Kind: MISC, Misc: &MiscSpec{Path: path, Dynamic: dynamic, Timeout: to}}
	}
	smtpHosts := func(ports ...uint16) Spec {
		s := tc(SMTP)
		s.SMTP = &SMTPSpec{HeloName: "xalived.test"}
		for _, p := range ports {
			s.SMTP.Hosts = append(s.SMTP.Hosts, Common{ConnectIP: netip.MustParseAddr(serverIP4), ConnectPort: p, ConnectTimeout: timeout})
		}
		return s
	}
	dns := func(typ, name string) Spec { s := tc(DNS); s.DNS = &DNSSpec{Type: typ, Name: name}; return s }
	udp := func(require bool, pattern string) Spec {
		s := tc(UDP)
		s.UDP = &UDPSpec{Payload: []byte{1, 2, 3}, RequireReply: require}
		if pattern != "" {
			s.UDP.ReplyPattern, s.UDP.ReplyMask, _ = ParseHex(pattern, true)
		}
		return s
	}
	withVhost := func(s Spec, proto, vhost string, sni bool) Spec {
		s.HTTP.Protocol, s.HTTP.VirtualHost, s.HTTP.EnableSNI = proto, vhost, sni
		return s
	}
	root := URL{Path: "/", Digest: md5hex(okBody)}
	bound := func(s Spec) Spec { s.BindTo, s.BindPort = netip.MustParseAddr(bindIP4), 47999; return s }
	marked := func(s Spec) Spec { s.FWMark = 7; return s }
	withIf := func(s Spec, dev string) Spec { s.BindIf = dev; return s }
	minLen := func(s Spec, n int) Spec { s.UDP.MinReplyLength = n; return s }
	type mode struct {
		what   string
		addr   string
		port   uint16
		spec   Spec
		ok     bool
		atTime time.Duration // the verdict is expected at this timeout (0: at once)
	}
	modes := []mode{
		{"TCP healthy", serverIP4, 8080, tc(TCP), true, 0},
		{"TCP healthy IPv6", serverIP6, 8080, tc(TCP), true, 0},
		{"TCP refused", serverIP4, 7, tc(TCP), false, 0},
		{"TCP hung host (no ARP reply)", hungIP4, 80, tc(TCP), false, timeout},
		{"TCP bindto + bind_port", serverIP4, 8095, bound(tc(TCP)), true, 0},
		{"TCP bind_if s0", serverIP4, 8080, withIf(tc(TCP), "s0"), true, 0},
		{"TCP bind_if missing device", serverIP4, 8080, withIf(tc(TCP), "nosuchdev0"), false, 0},
		{"TCP fwmark 7 (routed to prohibit)", serverIP4, 8080, marked(tc(TCP)), false, 0},
		{"HTTP_GET fwmark 7", serverIP4, 0, marked(httpSpec(HTTP, 8080, root)), false, 0},
		{"HTTP_GET healthy, digest", serverIP4, 0, httpSpec(HTTP, 8080, root), true, 0},
		{"HTTP_GET several urls, status list", serverIP4, 0, httpSpec(HTTP, 8080, root, URL{Path: "/500", StatusCodes: []StatusRange{{200, 299}, {500, 503}}}), true, 0},
		{"HTTP_GET second url fails", serverIP4, 0, httpSpec(HTTP, 8080, root, URL{Path: "/500"}), false, 0},
		{"HTTP_GET wrong digest", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/", Digest: md5hex("other")}), false, 0},
		{"HTTP_GET virtualhost + http_protocol 1.1", serverIP4, 0, withVhost(httpSpec(HTTP, 8080, URL{Path: "/vhost"}), "1.1", "www.example", false), true, 0},
		{"HTTP_GET without the virtualhost", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/vhost"}), false, 0},
		{"HTTP_GET regex matches", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/", Regex: regexp.MustCompile("from the real")}), true, 0},
		{"HTTP_GET regex_no_match", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/", Regex: regexp.MustCompile("hello"), RegexNoMatch: true}), false, 0},
		{"HTTP_GET chunked body (1.1), digest", serverIP4, 0, withVhost(httpSpec(HTTP, 8080, URL{Path: "/chunked", Digest: md5hex(okBody + okBody)}), "1.1", "", false), true, 0},
		{"HTTP_GET body until close (1.0), digest", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/chunked", Digest: md5hex(okBody + okBody)}), true, 0},
		{"HTTP_GET chunked body (1.1), wrong digest", serverIP4, 0, withVhost(httpSpec(HTTP, 8080, URL{Path: "/chunked", Digest: md5hex(okBody)}), "1.1", "", false), false, 0},
		{"HTTP_GET body stalls, no digest", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/stall"}), false, timeout},
		{"HTTP_GET body shorter than Content-Length", serverIP4, 0, httpSpec(HTTP, 8080, URL{Path: "/short"}), false, 0},
		{"HTTP_GET accept, never answer", serverIP4, 0, httpSpec(HTTP, 8081, root), false, timeout},
		{"HTTP_GET slow-loris response", serverIP4, 0, httpSpec(HTTP, 8082, root), false, timeout},
		{"HTTP_GET hung host", hungIP4, 0, httpSpec(HTTP, 8080, root), false, timeout},
		{"SSL_GET healthy, SNI", serverIP4, 0, withVhost(httpSpec(SSL, 8443, root), "1.0", "www.example", true), true, 0},
		{"SSL_GET stalled handshake", serverIP4, 0, httpSpec(SSL, 8444, root), false, timeout},
		{"SSL_GET against plain HTTP", serverIP4, 0, httpSpec(SSL, 8080, root), false, 0},
		{"MISC_CHECK exit 0", serverIP4, 80, misc("/bin/true", false, time.Second), true, 0},
		{"MISC_CHECK exit 1", serverIP4, 80, misc("/bin/false", false, time.Second), false, 0},
		{"MISC_CHECK misc_dynamic exit 12", serverIP4, 80, misc(script("dyn.sh", "exit 12\n"), true, time.Second), true, 0},
		{"MISC_CHECK ignores SIGTERM", serverIP4, 80, misc(stubborn, false, time.Second), false, timeout},
		{"SMTP_CHECK aiosmtpd", serverIP4, 25, tc(SMTP), true, 0},
		{"SMTP_CHECK two hosts, one without banner", serverIP4, 25, smtpHosts(25, 2526), false, timeout},
		{"SMTP_CHECK refused", serverIP4, 24, tc(SMTP), false, 0},
		{"DNS_CHECK dnsmasq A", serverIP4, 53, dns("A", "web.example"), true, 0},
		{"DNS_CHECK dnsmasq TXT", serverIP4, 53, dns("TXT", "web.example"), true, 0},
		{"DNS_CHECK unknown name (REFUSED)", serverIP4, 53, dns("A", "nothing.example"), false, 0},
		{"DNS_CHECK no server (ICMP refused)", serverIP4, 54, dns("A", "web.example"), false, 0},
		{"DNS_CHECK hung host", hungIP4, 53, dns("A", "web.example"), false, timeout},
		{"UDP_CHECK echo, require_reply EC X3", serverIP4, 9000, udp(true, "ec 0X 01"), true, 0},
		{"UDP_CHECK echo, reply shorter than min_reply_length", serverIP4, 9000, minLen(udp(true, "ec"), 100), false, 0},
		{"UDP_CHECK echo, reply mismatch", serverIP4, 9000, udp(true, "ed"), false, 0},
		{"UDP_CHECK silent, no require_reply (ok at timeout)", serverIP4, 9001, udp(false, ""), true, timeout},
		{"UDP_CHECK silent, require_reply", serverIP4, 9001, udp(true, ""), false, timeout},
		{"UDP_CHECK closed port (ICMP unreachable)", serverIP4, 9002, udp(false, ""), false, 0},
		{"PING_CHECK IPv4", serverIP4, 0, tc(PING), true, 0},
		{"PING_CHECK IPv6", serverIP6, 0, tc(PING), true, 0},
		{"PING_CHECK hung host", hungIP4, 0, tc(PING), false, timeout},
		{"FILE_CHECK value 0", serverIP4, 80, Spec{Kind: FILE, File: &FileSpec{Path: trackFile}}, true, 0},
		{"FILE_CHECK value 5", serverIP4, 80, Spec{Kind: FILE, File: &FileSpec{Path: trackBad}}, false, 0},
	}
	var wg sync.WaitGroup
	type result struct {
		o    Outcome
		err  error
		took time.Duration
	}
	results := make([]result, len(modes))
	for i, m := range modes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, took, err := probeOnce(t, m.addr, m.port, m.spec)
			results[i] = result{o, err, took}
		}()
	}
	wg.Wait()
	for i, m := range modes {
		r := results[i]
		t.Logf("FAILMODE %-45s ok=%-5v took=%7.1fms  %v", m.what, r.o.OK, float64(r.took.Microseconds())/1000, r.err)
		if r.o.OK != m.ok {
			t.Errorf("%s: ok=%v (%v), want %v", m.what, r.o.OK, r.err, m.ok)
			continue
		}
		// Timing is asserted only as far as a loaded CI machine allows: a verdict expected at the
		// timeout must not come before it (nor hang far past it: the servers never answer), and a
		// verdict expected at once must not be a timeout.
		timedOut := r.err != nil && (strings.Contains(r.err.Error(), "timeout") || strings.Contains(r.err.Error(), "deadline exceeded") || strings.Contains(r.err.Error(), "timed out"))
		switch {
		case m.atTime > 0 && (r.took < m.atTime-50*time.Millisecond || r.took > m.atTime+5*time.Second):
			t.Errorf("%s: verdict after %v, want at its %v timeout", m.what, r.took, m.atTime)
		case m.atTime == 0 && timedOut:
			t.Errorf("%s: %v after %v, want an immediate verdict", m.what, r.err, r.took)
		}
	}
	srv.mu.Lock()
	if len(srv.peers) != 1 || srv.peers[0] != bindIP4+":47999" {
		t.Errorf("bindto/bind_port: the server saw %q, want %s:47999", srv.peers, bindIP4)
	}
	srv.mu.Unlock()
	dyn := slices.IndexFunc(modes, func(m mode) bool { return strings.Contains(m.what, "misc_dynamic") })
	if o := results[dyn].o; o.Weight == nil || *o.Weight != 12-2-1 {
		t.Errorf("misc_dynamic exit 12 with weight 1: delta %v, want 9", o.Weight)
	}
	if sni := srv.sniSeen(); len(sni) == 0 || sni[0] != "www.example" {
		t.Errorf("SNI seen by the TLS server: %q", sni)
	}
	// keepalived's recovery without fast_recovery: a DOWN HTTP_GET with three urls checks one
	// url per run and comes UP after the third; with fast_recovery, after one run.
	for _, fast := range []bool{false, true} {
		sp := httpSpec(HTTP, 8080, root, root, root)
		sp.HTTP.FastRecovery = fast
		sp.Alpha = ptr(true)
		vs := VirtualServer{Key: VSKey{Addr: netip.MustParseAddr("203.0.113.10"), Port: 80, Protocol: "TCP"},
			RealServers: []RealServer{{Addr: netip.MustParseAddr(serverIP4), Port: 8080, Weight: 1, Checkers: []Spec{sp}}}}
		s, err := New([]VirtualServer{vs}, Config{})
		if err != nil {
			t.Fatal(err)
		}
		ck := s.rss[0].checkers[0]
		var runs []string
		for i := 0; i < 3 && !ck.state.Up; i++ {
			o, err := s.probe(context.Background(), ck)
			s.apply(ck, o, err, time.Now(), 0)
			runs = append(runs, fmt.Sprintf("ok=%v pending=%v up=%v", o.OK, o.Pending, ck.state.Up))
		}
		want := []string{"ok=false pending=true up=false", "ok=false pending=true up=false", "ok=true pending=false up=true"}
		if fast {
			want = []string{"ok=true pending=false up=true"}
		}
		if !slices.Equal(runs, want) {
			t.Errorf("fast_recovery %v: runs %q, want %q", fast, runs, want)
		}
	}
	// The stubborn script and its child are gone.
	b, _ := os.ReadFile(pidFile)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && !strings.Contains(string(st), ") Z ") {
			t.Errorf("MISC_CHECK script %d still running after its timeout", pid)
		}
	}
}

// GenHash gives the digest HTTP_GET compares with, and the same digest as Debian's keepalived
// genhash on the same server.
func TestGenHash(t *testing.T) {
	if !isInner(t) {
		testenv.RequireRoot(t)
		inNetns(t, topology(t))
		return
	}
	srv := &servers{}
	srv.start(t)
	for _, u := range []string{"http://" + serverIP4 + ":8080/", "https://" + serverIP4 + ":8443/", "http://[" + serverIP6 + "]:8080/"} {
		status, digest, err := GenHash(context.Background(), u, GenHashOptions{Timeout: 2 * time.Second})
		if err != nil || status != 200 || digest != md5hex(okBody) {
			t.Fatalf("GenHash(%s) = %d %s %v, want 200 %s", u, status, digest, err, md5hex(okBody))
		}
	}
	status, digest, err := GenHash(context.Background(), "http://"+serverIP4+":8080/vhost", GenHashOptions{VirtualHost: "www.example", Protocol: "1.1"})
	if err != nil || status != 200 || digest != md5hex(okBody) {
		t.Fatalf("GenHash with virtualhost and HTTP/1.1 = %d %s %v", status, digest, err)
	}
	if _, _, err := GenHash(context.Background(), "ftp://x/", GenHashOptions{}); err == nil {
		t.Fatal("ftp:// accepted")
	}
	if _, err := exec.LookPath("genhash"); err != nil {
		testenv.Skip(t, "needs keepalived's genhash (make deps)")
	}
	for _, args := range [][]string{
		{"-s", serverIP4, "-p", "8080", "-u", "/"},
		{"-S", "-s", serverIP4, "-p", "8443", "-u", "/"},
		{"-s", serverIP4, "-p", "8080", "-u", "/vhost", "-V", "www.example", "-P", "1.1"},
	} {
		out, err := exec.Command("genhash", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("genhash %v: %v: %s", args, err, out)
		}
		if !strings.Contains(strings.ToLower(string(out)), md5hex(okBody)) {
			t.Fatalf("keepalived's genhash %v says %q, we say %s", args, out, md5hex(okBody))
		}
	}
}

// PING_CHECK works with an unprivileged ping socket when net.ipv4.ping_group_range allows it
// and falls back to a raw socket when it does not (the sysctl belongs to the namespace).
func TestPingSockets(t *testing.T) {
	if !isInner(t) {
		testenv.RequireRoot(t)
		inNetns(t, topology(t))
		return
	}
	const sysctl = "/proc/sys/net/ipv4/ping_group_range"
	for _, tc := range []struct {
		rng   string
		dgram bool
	}{{"1\t0", false}, {"0\t2147483647", true}} {
		if err := os.WriteFile(sysctl, []byte(tc.rng), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ip := range []string{serverIP4, serverIP6} {
			pc, dgram, err := openPing(Common{ConnectIP: netip.MustParseAddr(ip)})
			if err != nil {
				t.Fatal(err)
			}
			pc.Close()
			if dgram != tc.dgram {
				t.Errorf("ping_group_range %q, %s: dgram %v, want %v", tc.rng, ip, dgram, tc.dgram)
			}
			sp := Spec{Kind: PING, Common: Common{ConnectTimeout: time.Second}}
			if o, _, err := probeOnce(t, ip, 0, sp); !o.OK {
				t.Errorf("ping_group_range %q, %s: %v", tc.rng, ip, err)
			}
		}
	}
}
