package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
