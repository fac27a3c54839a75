package control

import (
	"encoding/json"
	"fmt"
	"path/filepath"
)

// Commands understood by the daemon.
const (
	CmdStatus = "status"
	CmdReload = "reload"
	CmdStop   = "stop"
	CmdStats  = "stats"
)

// DefaultDir is where control sockets live unless --control says otherwise.
const DefaultDir = "/run/xalived"

// maxLine bounds one request or response line so a misbehaving peer cannot exhaust memory.
const maxLine = 16 << 20

// DefaultPath returns the default control socket of the daemon named name ("" for the default one).
func DefaultPath(name string) string {
	if name == "" {
		name = "xalived"
	}
	return filepath.Join(DefaultDir, name+".sock")
}

// Request is one line sent by a client.
type Request struct {
	Cmd string `json:"cmd"`
}

// Response is one line sent back by the daemon.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Status *Status         `json:"status,omitempty"`
	Stats  json.RawMessage `json:"stats,omitempty"`
}

// RemoteError is an error reported by the daemon in a Response.
type RemoteError struct {
	Cmd string
	Msg string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("%s: daemon: %s", e.Cmd, e.Msg) }
