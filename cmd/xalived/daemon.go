package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"

	"github.com/xalived/xalived/pkg/daemon"
)

// runDaemon runs the daemon in the foreground until SIGTERM/SIGINT or `xalivectl stop`.
// xalived never forks: -n is accepted for keepalived compatibility, and systemd units use
// Type=notify (READY=1 is sent once every instance runs). Logs go to stderr (the journal under
// systemd); -D adds debug detail. The ready file is --ready-file, or XALIVED_READY_FILE.
func runDaemon(o options) error {
	level := slog.LevelInfo
	if o.LogDetail {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	pidFile := o.PidFile
	if pidFile == "" {
		name := o.Name
		if name == "" {
			name = "xalived"
		}
		pidFile = filepath.Join("/run/xalived", name+".pid")
	}
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			log.Error("cpu profile", "err", err)
			return &exitError{code: exitFatal}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Error("cpu profile", "err", err)
			return &exitError{code: exitFatal}
		}
		defer pprof.StopCPUProfile() // on SIGTERM or xalivectl stop; a SIGKILL loses it
		log.Info("writing a cpu profile", "file", o.CPUProfile)
	}
	err := daemon.Run(context.Background(), daemon.Options{
		ConfigFile: o.ConfigFile,
		Name:       o.Name,
		Control:    o.Control,
		PIDFile:    pidFile,
		ReadyFile:  readyFile(o),
		Dataplane:  o.Dataplane,
		XDPMode:    o.XDPMode,
		BPFFS:      o.BPFFS,
		ConfigID:   o.ConfigID,
		Logger:     log,
		RTPriority: rtPriority(o),
	})
	if err != nil {
		log.Error("xalived stopped", "err", err)
		return &exitError{code: exitFatal}
	}
	return nil
}

func readyFile(o options) string {
	if o.ReadyFile != "" {
		return o.ReadyFile
	}
	return os.Getenv("XALIVED_READY_FILE")
}

// rtPriority is --vrrp-rt-priority for the daemon: nil when not given.
func rtPriority(o options) *int {
	if o.RTPriority < 0 {
		return nil
	}
	p := o.RTPriority
	return &p
}
