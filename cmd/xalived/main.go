package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/xalived/xalived/pkg/config"
)

// Exit codes, following keepalived where it has one.
const (
	exitOK          = 0
	exitFatal       = 1 // daemon or command-line failure
	exitConfigError = 5 // keepalived -t: configuration errors (observed on 2.2.7)
	exitNoConfig    = 6 // configuration file missing / unreadable
	exitSecurity    = 6 // keepalived -t: scripts would run as root without enable_script_security
)

// exitError carries an exit code to main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := exitFatal
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "xalived:", ee.err)
		}
	} else if !errors.Is(err, errHelp) {
		fmt.Fprintln(os.Stderr, "xalived:", err)
	} else {
		code = exitOK
	}
	os.Exit(code)
}

// run is the whole program; it returns an error instead of exiting.
func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if o.ShowVersion {
		fmt.Fprintln(stdout, "xalived (keepalived.conf compatible with keepalived 2.2.x)")
		return nil
	}
	if o.ConfigTest || o.DumpConfig {
		// One-shot commands: the parse allocates a lot and the process
		// exits right after, so collecting less often halves their CPU
		// time on large files (10,000 real servers: ~140 -> ~75 ms).
		debug.SetGCPercent(400)
	}
	if o.ConfigTest {
		return configTest(o, stderr)
	}
	if o.DumpConfig {
		return dumpConfig(o, stdout, stderr)
	}
	return runDaemon(o)
}

func parseOpts(o options, hostChecks bool) config.Options {
	return config.Options{ConfigID: o.ConfigID, HostChecks: hostChecks}
}

// configTest implements -t: every problem as FILE:LINE: message, exit 0
// when keepalived would accept the file, 5 when it would report errors, 6
// for a script security violation (as keepalived 2.2.7) or when the file
// cannot be read (keepalived -t exits 0 there; a missing file is no valid
// configuration).
func configTest(o options, stderr io.Writer) error {
	out := stderr
	if o.TestOutput != "" {
		f, err := os.Create(o.TestOutput)
		if err != nil {
			return &exitError{code: exitFatal, err: fmt.Errorf("config test output: %w", err)}
		}
		defer f.Close()
		out = f
	}
	_, diags, err := config.ParseFile(o.ConfigFile, parseOpts(o, true))
	for _, d := range diags {
		fmt.Fprintln(out, d.String())
	}
	if err != nil {
		if errors.Is(err, config.ErrInvalid) {
			for _, d := range diags {
				if strings.HasPrefix(d.Message, "SECURITY VIOLATION") {
					return &exitError{code: exitSecurity}
				}
			}
			return &exitError{code: exitConfigError}
		}
		fmt.Fprintf(out, "%s: %v\n", o.ConfigFile, err)
		return &exitError{code: exitNoConfig}
	}
	return nil
}

// dumpConfig implements --dump-config: the parsed, defaulted model as JSON
// on stdout, diagnostics on stderr.
func dumpConfig(o options, stdout, stderr io.Writer) error {
	cfg, diags, err := config.ParseFile(o.ConfigFile, parseOpts(o, false))
	for _, d := range diags {
		fmt.Fprintln(stderr, d.String())
	}
	if cfg == nil {
		return &exitError{code: exitNoConfig, err: err}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if e := enc.Encode(cfg); e != nil {
		return &exitError{code: exitFatal, err: fmt.Errorf("dump config: %w", e)}
	}
	if err != nil {
		return &exitError{code: exitConfigError}
	}
	return nil
}
