package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Handler answers control requests. Its methods may be called from several connections at once.
type Handler interface {
	Status(ctx context.Context) (Status, error)
	Reload(ctx context.Context) error
	Stop(ctx context.Context) error
}

// StatsHandler is optionally implemented by a Handler to answer the stats command.
type StatsHandler interface {
	Stats(ctx context.Context) (any, error)
}

// ErrInUse is returned by Listen when another daemon answers on the socket path.
var ErrInUse = errors.New("control socket in use by a running daemon")

// Listen creates the directory of path (mode 0755), removes a stale socket left by a dead
// daemon and listens on path (mode 0600). It refuses to take over a socket a live daemon answers.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		c, derr := net.DialTimeout("unix", path, 200*time.Millisecond)
		if derr == nil {
			_ = c.Close()
			return nil, fmt.Errorf("control socket %s: %w", path, ErrInUse)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control socket %s: remove stale: %w", path, err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return ln, nil
}

// Serve answers requests on ln with h until ctx is done; it then closes ln, waits for the
// connections it started and returns nil. Other accept errors are returned.
func Serve(ctx context.Context, ln net.Listener, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		_ = ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("control accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, h)
		}()
	}
}

func serveConn(ctx context.Context, c net.Conn, h Handler) {
	defer c.Close()
	// On shutdown stop reading, but let a response being written (e.g. to "stop") go out.
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		var req Request
		var resp Response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = fmt.Sprintf("bad request: %v", err)
		} else {
			resp = handle(ctx, h, req)
		}
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := enc.Encode(&resp); err != nil {
			return
		}
	}
}

func handle(ctx context.Context, h Handler, req Request) (resp Response) {
	var err error
	switch req.Cmd {
	case CmdStatus:
		var st Status
		st, err = h.Status(ctx)
		if err == nil {
			if st.VRRP == nil {
				st.VRRP = []Instance{}
			}
			if st.VirtualServers == nil {
				st.VirtualServers = []VirtualServer{}
			}
			resp.Status = &st
		}
	case CmdReload:
		err = h.Reload(ctx)
	case CmdStop:
		err = h.Stop(ctx)
	case CmdStats:
		sh, ok := h.(StatsHandler)
		if !ok {
			err = errors.New("stats not supported")
			break
		}
		var v any
		if v, err = sh.Stats(ctx); err == nil {
			resp.Stats, err = json.Marshal(v)
		}
	default:
		err = fmt.Errorf("unknown command %q", req.Cmd)
	}
	if err != nil {
		return Response{Error: err.Error()}
	}
	resp.OK = true
	return resp
}
