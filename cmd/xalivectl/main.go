// Command xalivectl talks to a running xalived over its control socket.
//
//	xalivectl [--control PATH | --name NAME] status [--json]
//	xalivectl [--control PATH | --name NAME] reload
//	xalivectl [--control PATH | --name NAME] stop
//	xalivectl [--control PATH | --name NAME] stats
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xalived/xalived/pkg/control"
)

const usage = `usage: xalivectl [--control PATH | --name NAME] [--timeout D] COMMAND
commands:
  status [--json]   state of every VRRP instance and virtual server
  reload            re-read the configuration (errors are printed as FILE:LINE: message)
  stop              graceful shutdown (priority-0 adverts, VIPs removed)
  stats             raw statistics as JSON
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "xalivectl:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("xalivectl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	path := fs.String("control", "", "control socket path (default "+control.DefaultPath("")+")")
	name := fs.String("name", "", "daemon name; selects /run/xalived/NAME.sock")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *path == "" {
		*path = control.DefaultPath(*name)
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return usageError{"missing command"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := control.NewClient(*path)
	switch cmd := rest[0]; cmd {
	case "status":
		sfs := flag.NewFlagSet("status", flag.ContinueOnError)
		sfs.SetOutput(stderr)
		asJSON := sfs.Bool("json", false, "print the status document as JSON")
		if err := sfs.Parse(rest[1:]); err != nil {
			return usageError{err.Error()}
		}
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(st)
		}
		return control.WriteTable(stdout, st)
	case "reload", "stop":
		if len(rest) > 1 {
			return usageError{cmd + " takes no arguments"}
		}
		var err error
		if cmd == "reload" {
			err = c.Reload(ctx)
		} else {
			err = c.Stop(ctx)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ok")
		return nil
	case "stats":
		raw, err := c.Stats(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", raw)
		return err
	default:
		fs.Usage()
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}
