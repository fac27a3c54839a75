package lvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// IPVS connection synchronisation: the kernel threads `ipvsadm --start-daemon` starts, which
// multicast connection state from the active director to its standby (lvs_sync_daemon).
const (
	cmdNewDaemon = 9
	cmdDelDaemon = 10
	cmdGetDaemon = 11

	attrDaemon = 3

	daemonState      = 1
	daemonMcastIfn   = 2
	daemonSyncID     = 3
	daemonSyncMaxLen = 4
	daemonMcastGroup = 5
	daemonMcastGrp6  = 6
	daemonMcastPort  = 7
	daemonMcastTTL   = 8

	stateMaster = 1
	stateBackup = 2
)

// SyncDaemon is one IPVS sync thread: a master sends this director's connections, a backup
// receives another's. Zero values leave the kernel's defaults (port 8848, group 224.0.0.81,
// TTL 1, the interface MTU for MaxLen).
type SyncDaemon struct {
	Master    bool
	Interface string
	SyncID    uint8 // the kernel keeps 8 bits
	MaxLen    uint16
	Port      uint16
	TTL       uint8
	Group     netip.Addr
}

func (d SyncDaemon) role() string {
	if d.Master {
		return "master"
	}
	return "backup"
}

func (d SyncDaemon) String() string {
	return fmt.Sprintf("%s sync daemon on %s (syncid %d)", d.role(), d.Interface, d.SyncID)
}

// StartSyncDaemon starts d in the network namespace at nsPath ("" for the caller's). One master
// and one backup may run at once; starting one that runs already is not an error.
func StartSyncDaemon(nsPath string, d SyncDaemon) error {
	if d.Interface == "" {
		return errors.New("sync daemon: no interface")
	}
	err := daemonRequest(nsPath, cmdNewDaemon, d)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("start %s: %w", d, err)
	}
	return nil
}

// StopSyncDaemon stops the master or backup sync thread; one that is not running is not an error.
func StopSyncDaemon(nsPath string, master bool) error {
	err := daemonRequest(nsPath, cmdDelDaemon, SyncDaemon{Master: master})
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s sync daemon: %w", SyncDaemon{Master: master}.role(), err)
	}
	return nil
}

// SyncDaemons lists the running sync threads.
func SyncDaemons(nsPath string) ([]SyncDaemon, error) {
	w, err := newWriter(nsPath)
	if err != nil {
		return nil, err
	}
	defer w.close()
	var out []SyncDaemon
	err = w.dump(daemonMessage(nil, w.family, w.seq, cmdGetDaemon, nil), attrDaemon, func(v []byte) {
		out = append(out, parseDaemon(v))
	})
	if err != nil {
		return nil, fmt.Errorf("list sync daemons: %w", err)
	}
	return out, nil
}

func parseDaemon(b []byte) SyncDaemon {
	var d SyncDaemon
	ne := binary.NativeEndian
	for typ, v := range attrs(b) {
		switch {
		case typ == daemonState && len(v) >= 4:
			d.Master = ne.Uint32(v)&stateMaster != 0
		case typ == daemonMcastIfn:
			d.Interface = string(trimNUL(v))
		case typ == daemonSyncID && len(v) >= 4:
			d.SyncID = uint8(ne.Uint32(v))
		case typ == daemonSyncMaxLen && len(v) >= 2:
			d.MaxLen = ne.Uint16(v)
		case typ == daemonMcastPort && len(v) >= 2:
			d.Port = binary.BigEndian.Uint16(v)
		case typ == daemonMcastTTL && len(v) >= 1:
			d.TTL = v[0]
		case typ == daemonMcastGroup && len(v) == 4:
			if a := netip.AddrFrom4([4]byte(v)); !a.IsUnspecified() {
				d.Group = a
			}
		case typ == daemonMcastGrp6 && len(v) == 16:
			if a := netip.AddrFrom16([16]byte(v)); !a.IsUnspecified() {
				d.Group = a
			}
		}
	}
	return d
}

func trimNUL(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func daemonRequest(nsPath string, cmd uint8, d SyncDaemon) error {
	w, err := newWriter(nsPath)
	if err != nil {
		return err
	}
	defer w.close()
	return w.request(daemonMessage(nil, w.family, w.seq, cmd, &d))
}

// daemonMessage encodes an IPVS daemon command; d is nil for a dump.
func daemonMessage(b []byte, family uint16, seq uint32, cmd uint8, d *SyncDaemon) []byte {
	start := len(b)
	b = appendHeader(b, family, seq, cmd)
	if d != nil {
		nest := len(b)
		b = attrHeader(b, attrDaemon)
		state := uint32(stateBackup)
		if d.Master {
			state = stateMaster
		}
		b = attrU32(b, daemonState, state)
		if cmd == cmdNewDaemon {
			b = attrBytes(b, daemonMcastIfn, append([]byte(d.Interface), 0))
			b = attrU32(b, daemonSyncID, uint32(d.SyncID))
			if d.MaxLen != 0 {
				b = attrU16(b, daemonSyncMaxLen, d.MaxLen)
			}
			if d.Port != 0 {
				b = attrBytes(b, daemonMcastPort, binary.BigEndian.AppendUint16(nil, d.Port))
			}
			if d.TTL != 0 {
				b = attrBytes(b, daemonMcastTTL, []byte{d.TTL})
			}
			if d.Group.Is4() {
				b = attrBytes(b, daemonMcastGroup, d.Group.AsSlice())
			} else if d.Group.Is6() {
				b = attrBytes(b, daemonMcastGrp6, d.Group.AsSlice())
			}
		}
		b = endNest(b, nest)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}
