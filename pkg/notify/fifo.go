package notify

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// State names as keepalived writes them to scripts, FIFOs and mails.
const (
	StateMaster  = "MASTER"
	StateBackup  = "BACKUP"
	StateFault   = "FAULT"
	StateStop    = "STOP"
	StateDeleted = "DELETED"
	// Extra FIFO-only "states".
	StateMasterRxLowerPri = "MASTER_RX_LOWER_PRI"
	StateMasterPriority   = "MASTER_PRIORITY"
	StateBackupPriority   = "BACKUP_PRIORITY"
)

// InstanceLine is the vrrp FIFO line of an instance, without the newline.
func InstanceLine(name, state string, priority int) string {
	return "INSTANCE " + strconv.Quote(name) + " " + state + " " + strconv.Itoa(priority)
}

// GroupLine is the vrrp FIFO line of a sync group (keepalived always writes priority 0).
func GroupLine(name, state string) string {
	return "GROUP " + strconv.Quote(name) + " " + state + " 0"
}

// VSLine is the lvs FIFO line of a virtual server (`VS [ip]:tcp:80 UP`); vs is formatted by
// ServiceName or FWMarkName.
func VSLine(vs string, up bool) string { return "VS " + vs + " " + upDown(up) }

// RSLine is the lvs FIFO line of a real server (`RS [ip]:tcp:80 [vip]:tcp:80 DOWN`).
func RSLine(rs, vs string, up bool) string { return "RS " + rs + " " + vs + " " + upDown(up) }

func upDown(up bool) string {
	if up {
		return "UP"
	}
	return "DOWN"
}

// ServiceName formats an address, protocol and port as keepalived does: "[ip]:tcp:80".
func ServiceName(ip, proto string, port uint16) string {
	return "[" + ip + "]:" + proto + ":" + strconv.Itoa(int(port))
}

// FWMarkName formats a fwmark virtual server as keepalived does: "FWM 1".
func FWMarkName(mark uint32) string { return "FWM " + strconv.FormatUint(uint64(mark), 10) }

// FIFO writes lines to a named pipe. It creates the pipe when the path does not exist and opens
// it read-write, so opening never waits for a reader and a reader going away never breaks it.
type FIFO struct {
	f *os.File
}

// OpenFIFO creates (mode 0600) or opens the named pipe at path.
func OpenFIFO(path string) (*FIFO, error) {
	if err := syscall.Mkfifo(path, 0o600); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	if st.Mode()&fs.ModeNamedPipe == 0 {
		return nil, fmt.Errorf("notify fifo %s: not a named pipe", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("notify fifo %s: %w", path, err)
	}
	return &FIFO{f: f}, nil
}

// WriteLine writes one line and its newline in a single write (atomic for a pipe up to
// PIPE_BUF bytes). It blocks while the pipe is full; Dispatcher calls it from its own goroutine.
func (w *FIFO) WriteLine(line string) error {
	if _, err := w.f.WriteString(line + "\n"); err != nil {
		return fmt.Errorf("notify fifo %s: %w", w.f.Name(), err)
	}
	return nil
}

// Close closes the pipe; a WriteLine blocked on a full pipe returns with an error.
func (w *FIFO) Close() error { return w.f.Close() }
