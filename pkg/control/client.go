package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
)

// Client talks to one daemon's control socket. A Client opens a connection per call, so it is
// safe for concurrent use and survives daemon restarts.
type Client struct {
	Path string
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client { return &Client{Path: path} }

// Do sends one request and returns the daemon's response. A response with OK false is
// returned together with a *RemoteError.
func (c *Client) Do(ctx context.Context, cmd string) (*Response, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		return nil, fmt.Errorf("control %s: %w", c.Path, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	if err := json.NewEncoder(conn).Encode(Request{Cmd: cmd}); err != nil {
		return nil, fmt.Errorf("control %s: send %s: %w", c.Path, cmd, err)
	}
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	if !sc.Scan() {
		err := sc.Err()
		if err == nil {
			err = errors.New("connection closed without a response")
		}
		return nil, fmt.Errorf("control %s: %s: %w", c.Path, cmd, err)
	}
	var resp Response
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		return nil, fmt.Errorf("control %s: %s: bad response: %w", c.Path, cmd, err)
	}
	if !resp.OK {
		return &resp, &RemoteError{Cmd: cmd, Msg: resp.Error}
	}
	return &resp, nil
}

// Status returns the daemon's status document.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	resp, err := c.Do(ctx, CmdStatus)
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("control %s: status: response without a status", c.Path)
	}
	return resp.Status, nil
}

// Reload asks the daemon to re-read its configuration. It returns once the daemon has applied
// the new configuration, or with the daemon's error when the new file was rejected.
func (c *Client) Reload(ctx context.Context) error {
	_, err := c.Do(ctx, CmdReload)
	return err
}

// Stop asks the daemon to shut down gracefully. It returns once the daemon has accepted.
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.Do(ctx, CmdStop)
	return err
}

// Stats returns the daemon's raw statistics document.
func (c *Client) Stats(ctx context.Context) (json.RawMessage, error) {
	resp, err := c.Do(ctx, CmdStats)
	if err != nil {
		return nil, err
	}
	return resp.Stats, nil
}
