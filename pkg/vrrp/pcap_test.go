package vrrp

import (
	"encoding/binary"
	"fmt"
	"os"
)

// readPcap returns the frames of a classic pcap file with Ethernet link type (either byte
// order, microsecond or nanosecond timestamps).
func readPcap(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("pcap %s: short header", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap %s: bad magic", path)
	}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap %s: link type %d, want ethernet", path, lt)
	}
	var frames [][]byte
	for off := 24; off < len(b); {
		if off+16 > len(b) {
			return nil, fmt.Errorf("pcap %s: truncated record header at %d", path, off)
		}
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if off+incl > len(b) {
			return nil, fmt.Errorf("pcap %s: truncated record at %d", path, off)
		}
		frames = append(frames, b[off:off+incl])
		off += incl
	}
	return frames, nil
}
