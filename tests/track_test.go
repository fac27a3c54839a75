package tests

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestTrackFileAndProcess: a track_file value times its weight lowers the master below its
// keepalived peer, which preempts; a tracked process (weight 0) that dies puts the instance in
// FAULT.
func TestTrackFileAndProcess(t *testing.T) {
	l := NewLab(t, 2)
	n1, n2 := l.Nodes[0], l.Nodes[1]
	tf := n1.writeFile(t, "prio", "0\n", 0o644)
	arg := fmt.Sprintf("3141.%d", time.Now().UnixNano()%1000000+1) // unique to this test
	proc := exec.Command("sleep", arg)
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Process.Kill(); _ = proc.Wait() })

	in := fastInst(150)
	in.Extra = "  track_file {\n    prio_file\n  }\n  track_process {\n    sleeper\n  }\n"
	conf := Conf{RouterID: "n1", Insts: []Inst{in}, Pre: `
vrrp_track_file prio_file {
  file "` + tf + `"
  weight 1
}
vrrp_track_process sleeper {
  process sleep ` + arg + `
  weight 0
}
`}
	x, k := NewXalived(t, n1), NewKeepalived(t, n2)
	x.Start(t, conf.Render(n1, nil))
	k.Start(t, Conf{RouterID: "n2", Insts: []Inst{fastInst(100)}}.Render(n2, nil))
	WaitState(t, x, "VI_1", "MASTER", 4*time.Second)
	WaitState(t, k, "VI_1", "BACKUP", 3*time.Second)

	if err := os.WriteFile(tf, []byte("-60\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	WaitState(t, k, "VI_1", "MASTER", 3*time.Second)
	WaitState(t, x, "VI_1", "BACKUP", 3*time.Second)
	if in := x.Instance(t, "VI_1"); in == nil || in.EffectivePriority != 90 {
		t.Fatalf("effective priority with track_file -60: %+v, want 90", in)
	}
	if err := os.WriteFile(tf, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	WaitState(t, x, "VI_1", "MASTER", 3*time.Second)
	if h := l.AssertSingleHolder(vip4); h != n1 {
		t.Fatalf("VIP on node %d, want 1", h.Index)
	}

	_ = proc.Process.Kill()
	_ = proc.Wait()
	WaitState(t, x, "VI_1", "FAULT", 3*time.Second)
	WaitState(t, k, "VI_1", "MASTER", 3*time.Second)
	if h := l.AssertSingleHolder(vip4); h != n2 {
		t.Fatalf("VIP on node %d, want 2", h.Index)
	}
}
