package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// options is the parsed command line. It is a plain value so the daemon
// wiring (runDaemon) can receive it whole.
type options struct {
	ConfigFile string // -f, --use-file
	DontFork   bool   // -n, --dont-fork
	LogConsole bool   // -l, --log-console
	LogDetail  bool   // -D, --log-detail
	ConfigTest bool   // -t, --config-test[=FILE]
	TestOutput string // FILE given to --config-test=FILE (output goes there)
	VRRPOnly   bool   // -P, --vrrp
	CheckOnly  bool   // -C, --check
	PidFile    string // -p, --pid
	ConfigID   string // -i, --config-id
	DumpConf   bool   // -d, --dump-conf
	DumpConfig bool   // --dump-config (JSON model)
	Name       string // --name
	Control    string // --control
	BPFFS      string // --bpffs
	Dataplane  string // --dataplane xdp|socket|auto
	XDPMode    string // --xdp-mode native|generic|auto
	ReadyFile  string // --ready-file (written once every instance runs)
	// RTPriority is --vrrp-rt-priority: the SCHED_RR priority of the VRRP router's thread, 0
	// for the normal class, -1 (not given) for global_defs' vrrp_rt_priority or the default.
	RTPriority  int
	ShowVersion bool // -v, --version
	// CPUProfile is the hidden --debug-cpuprofile=FILE: a Go CPU profile of the daemon's whole
	// run, written when it stops (for finding where a daemon's CPU goes; not in -h).
	CPUProfile string
}

const defaultConfigFile = "/etc/keepalived/keepalived.conf"

// errHelp is returned when -h was asked for; usage has been printed.
var errHelp = errors.New("help requested")

// parseOptions reads args (without the program name). keepalived's short
// flags may be combined ("-nlD") and -t/--config-test takes an optional
// =FILE, which the standard flag package cannot express, so the optional
// form is handled before flag parsing.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{
		ConfigFile: defaultConfigFile,
		BPFFS:      "/sys/fs/bpf",
		Dataplane:  "auto",
		XDPMode:    "auto",
		RTPriority: -1,
	}
	fs := flag.NewFlagSet("xalived", flag.ContinueOnError)
	fs.SetOutput(stderr)
	str := func(p *string, short, long, usage string) {
		if short != "" {
			fs.StringVar(p, short, *p, usage)
		}
		fs.StringVar(p, long, *p, usage)
	}
	boolean := func(p *bool, short, long, usage string) {
		if short != "" {
			fs.BoolVar(p, short, *p, usage)
		}
		fs.BoolVar(p, long, *p, usage)
	}
	str(&o.ConfigFile, "f", "use-file", "configuration file")
	boolean(&o.DontFork, "n", "dont-fork", "stay in the foreground")
	boolean(&o.LogConsole, "l", "log-console", "log to the console")
	boolean(&o.LogDetail, "D", "log-detail", "detailed log messages")
	boolean(&o.VRRPOnly, "P", "vrrp", "run the VRRP subsystem only")
	boolean(&o.CheckOnly, "C", "check", "run the health-checker subsystem only")
	str(&o.PidFile, "p", "pid", "pid file")
	str(&o.ConfigID, "i", "config-id", "configuration id for @id lines (default: short host name)")
	boolean(&o.DumpConf, "d", "dump-conf", "dump the configuration")
	boolean(&o.DumpConfig, "", "dump-config", "print the parsed, defaulted configuration as JSON and exit")
	str(&o.Name, "", "name", "instance name namespacing pins, control socket and pid file")
	str(&o.Control, "", "control", "control socket path (default /run/xalived/[NAME/]xalived.sock)")
	str(&o.BPFFS, "", "bpffs", "bpffs mount point")
	str(&o.Dataplane, "", "dataplane", "xdp, socket or auto")
	str(&o.XDPMode, "", "xdp-mode", "native, generic or auto")
	str(&o.ReadyFile, "", "ready-file", "file written once every instance runs (for scripts and tests; XALIVED_READY_FILE also works)")
	fs.IntVar(&o.RTPriority, "vrrp-rt-priority", o.RTPriority, "SCHED_RR priority 1..99 of the VRRP thread, 0 for the normal class (default: vrrp_rt_priority, else 1 when allowed)")
	boolean(&o.ShowVersion, "v", "version", "print the version")
	testFlag := false
	fs.BoolVar(&testFlag, "t", false, "test the configuration and exit (--config-test[=FILE] writes the report to FILE)")
	fs.BoolVar(&testFlag, "config-test", false, "test the configuration and exit")

	// Expand combined short flags and the optional --config-test=FILE.
	var norm []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			norm = append(norm, args[i:]...)
			break
		}
		switch {
		case strings.HasPrefix(a, "--config-test=") || strings.HasPrefix(a, "-config-test="):
			o.TestOutput = a[strings.IndexByte(a, '=')+1:]
			testFlag = true
			continue
		case strings.HasPrefix(a, "--debug-cpuprofile="):
			o.CPUProfile = strings.TrimPrefix(a, "--debug-cpuprofile=")
			if o.CPUProfile == "" {
				return o, errors.New("command line: --debug-cpuprofile needs =FILE")
			}
			continue
		case strings.HasPrefix(a, "-t") && len(a) > 2 && !strings.HasPrefix(a, "--") && a[2] == '=':
			o.TestOutput = a[3:]
			testFlag = true
			continue
		case len(a) > 2 && a[0] == '-' && a[1] != '-' && !strings.Contains(a, "=") && allShortBools(a[1:]):
			for _, c := range a[1:] {
				norm = append(norm, "-"+string(c))
			}
			continue
		}
		norm = append(norm, a)
	}
	if err := fs.Parse(norm); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, errHelp
		}
		return o, fmt.Errorf("command line: %w", err)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("command line: unexpected argument %q", fs.Arg(0))
	}
	o.ConfigTest = o.ConfigTest || testFlag
	if o.RTPriority < -1 || o.RTPriority > 99 {
		return o, fmt.Errorf("command line: --vrrp-rt-priority %d: want 0..99", o.RTPriority)
	}
	switch o.Dataplane {
	case "xdp", "socket", "auto":
	default:
		return o, fmt.Errorf("command line: --dataplane must be xdp, socket or auto, not %q", o.Dataplane)
	}
	switch o.XDPMode {
	case "native", "generic", "auto":
	default:
		return o, fmt.Errorf("command line: --xdp-mode must be native, generic or auto, not %q", o.XDPMode)
	}
	return o, nil
}

// allShortBools reports whether every letter is a boolean short flag.
func allShortBools(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("nlDPCdtv", c) {
			return false
		}
	}
	return true
}
