// Command xalivectl talks to a running xalived over its control socket.
//
//	xalivectl [--control PATH | --name NAME] status [--json]
//	xalivectl [--control PATH | --name NAME] reload
//	xalivectl [--control PATH | --name NAME] stop
//	xalivectl [--control PATH | --name NAME] stats
//	xalivectl genhash [--virtualhost H] [--protocol 1.0|1.0C|1.1] URL
//
// genhash fetches URL as HTTP_GET / SSL_GET would and prints the MD5 digest of the body, the
// value for a url block's `digest` keyword (keepalived ships this as a separate genhash tool).
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

	"github.com/xalived/xalived/pkg/check"
	"github.com/xalived/xalived/pkg/control"
)

const usage = `usage: xalivectl [--control PATH | --name NAME] [--timeout D] COMMAND
commands:
  status [--json]   state of every VRRP instance and virtual server
  reload            re-read the configuration (errors are printed as FILE:LINE: message)
  stop              graceful shutdown (priority-0 adverts, VIPs removed)
  stats             raw statistics as JSON
  genhash [--virtualhost H] [--protocol 1.0|1.0C|1.1] URL
                    MD5 digest of URL's body for HTTP_GET/SSL_GET digest (no daemon needed)
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
	case "genhash":
		return genhash(ctx, rest[1:], stdout, stderr)
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

// genhash prints the status code and the MD5 digest of a URL's body as the checkers compute it.
func genhash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	gfs := flag.NewFlagSet("genhash", flag.ContinueOnError)
	gfs.SetOutput(stderr)
	vhost := gfs.String("virtualhost", "", "Host header (and TLS SNI) to send")
	proto := gfs.String("protocol", "", "HTTP protocol: 1.0, 1.0C or 1.1 (default 1.0)")
	// Flags may come before or after the URL.
	var urls []string
	for {
		if err := gfs.Parse(args); err != nil {
			return usageError{err.Error()}
		}
		if gfs.NArg() == 0 {
			break
		}
		urls = append(urls, gfs.Arg(0))
		args = gfs.Args()[1:]
	}
	if len(urls) != 1 {
		return usageError{"genhash needs exactly one URL"}
	}
	dl, _ := ctx.Deadline()
	status, digest, err := check.GenHash(ctx, urls[0], check.GenHashOptions{VirtualHost: *vhost, Protocol: *proto, Timeout: time.Until(dl)})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "HTTP status = %d\nMD5SUM = %s\n", status, digest)
	return err
}
