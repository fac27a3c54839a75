package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/xalived/xalived/pkg/control"
)

type daemon struct {
	reloads, stops atomic.Int32
}

func (d *daemon) Status(context.Context) (control.Status, error) {
	return control.Status{VRRP: []control.Instance{{Name: "VI_1", State: "BACKUP", VRID: 7,
		Interface: "veth0", Priority: 100, EffectivePriority: 100, MasterIP: "198.51.100.2",
		VIPs: []string{"198.51.100.50/32"}, Dataplane: "socket"}}}, nil
}
func (d *daemon) Reload(context.Context) error {
	if d.reloads.Add(1) > 1 {
		return errors.New("x.conf:2: bad")
	}
	return nil
}
func (d *daemon) Stop(context.Context) error { d.stops.Add(1); return nil }

func serve(t *testing.T) (string, *daemon) {
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{}
	done := make(chan struct{})
	go func() { _ = control.Serve(ctx, ln, d); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path, d
}

func TestCLI(t *testing.T) {
	path, d := serve(t)
	var out, errb bytes.Buffer
	if err := run([]string{"--control", path, "status", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var st control.Status
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || len(st.VRRP) != 1 || st.VRRP[0].State != "BACKUP" {
		t.Fatalf("status --json = %s (%v)", out.String(), err)
	}
	out.Reset()
	if err := run([]string{"--control", path, "status"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "VI_1") || !strings.Contains(out.String(), "198.51.100.50/32") {
		t.Fatalf("table: %s", out.String())
	}
	if err := run([]string{"--control", path, "reload"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"--control", path, "reload"}, &out, &errb); err == nil || !strings.Contains(err.Error(), "x.conf:2: bad") {
		t.Fatalf("failed reload: %v", err)
	}
	if err := run([]string{"--control", path, "stop"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if d.reloads.Load() != 2 || d.stops.Load() != 1 {
		t.Fatalf("reloads %d stops %d", d.reloads.Load(), d.stops.Load())
	}
	var ue usageError
	if err := run([]string{"--control", path, "bogus"}, &out, &errb); !errors.As(err, &ue) {
		t.Fatalf("bogus command: %v", err)
	}
	if err := run([]string{"--control", filepath.Join(t.TempDir(), "no.sock"), "status"}, &out, &errb); err == nil {
		t.Fatal("status without a daemon succeeded")
	}
}

func TestGenHash(t *testing.T) {
	body := "hello from the real server\n"
	var host atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		if r.URL.Path != "/index.html" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, body)
	}))
	defer srv.Close()
	sum := md5.Sum([]byte(body))
	want := hex.EncodeToString(sum[:])

	var out, errb bytes.Buffer
	if err := run([]string{"genhash", srv.URL + "/index.html", "--virtualhost", "www.example.com"}, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if got := out.String(); !strings.Contains(got, "MD5SUM = "+want+"\n") || !strings.Contains(got, "HTTP status = 200") {
		t.Fatalf("output %q, want digest %s", got, want)
	}
	if h, _ := host.Load().(string); h != "www.example.com" {
		t.Errorf("Host header %q, want www.example.com", h)
	}
	// A 404 still prints the status and the digest of what came back.
	out.Reset()
	if err := run([]string{"genhash", srv.URL + "/missing"}, &out, &errb); err != nil || !strings.Contains(out.String(), "HTTP status = 404") {
		t.Fatalf("404: %v %q", err, out.String())
	}
	for _, args := range [][]string{{"genhash"}, {"genhash", "a", "b"}} {
		var ue usageError
		if err := run(args, &out, &errb); !errors.As(err, &ue) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if err := run([]string{"genhash", "ftp://198.51.100.1/"}, &out, &errb); err == nil {
		t.Error("ftp:// accepted")
	}
}
