// Package pcap reads classic pcap files of Ethernet frames, as tcpdump -w writes them and as
// the project's test captures are stored: either byte order, micro- or nanosecond timestamps.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Read returns the frames in r.
func Read(r io.Reader) ([][]byte, error) {
	gh := make([]byte, 24)
	if _, err := io.ReadFull(r, gh); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(gh) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("pcap magic %x", gh[:4])
	}
	if lt := bo.Uint32(gh[20:]); lt != 1 {
		return nil, fmt.Errorf("pcap link type %d, want ethernet", lt)
	}
	var frames [][]byte
	rh := make([]byte, 16)
	for {
		if _, err := io.ReadFull(r, rh); errors.Is(err, io.EOF) {
			return frames, nil
		} else if err != nil {
			return frames, fmt.Errorf("pcap record %d: %w", len(frames), err)
		}
		n := bo.Uint32(rh[8:])
		if n > 1<<18 {
			return frames, fmt.Errorf("pcap record %d: %d bytes", len(frames), n)
		}
		f := make([]byte, n)
		if _, err := io.ReadFull(r, f); err != nil {
			return frames, fmt.Errorf("pcap record %d: %w", len(frames), err)
		}
		frames = append(frames, f)
	}
}

// ReadFile returns the frames of the pcap file at path.
func ReadFile(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	frames, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return frames, nil
}
