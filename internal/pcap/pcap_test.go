package pcap

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func file(bo binary.ByteOrder, magic uint32, frames ...[]byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	bo.PutUint32(h, magic)
	bo.PutUint32(h[20:], 1)
	b.Write(h)
	for _, f := range frames {
		r := make([]byte, 16)
		bo.PutUint32(r[8:], uint32(len(f)))
		bo.PutUint32(r[12:], uint32(len(f)))
		b.Write(r)
		b.Write(f)
	}
	return b.Bytes()
}

func TestRead(t *testing.T) {
	a, c := []byte{1, 2, 3}, []byte{4, 5}
	for name, bo := range map[string]binary.ByteOrder{"le": binary.LittleEndian, "be": binary.BigEndian} {
		for _, magic := range []uint32{0xa1b2c3d4, 0xa1b23c4d} {
			got, err := Read(bytes.NewReader(file(bo, magic, a, c)))
			if err != nil || len(got) != 2 || !bytes.Equal(got[0], a) || !bytes.Equal(got[1], c) {
				t.Errorf("%s %x: %v %v", name, magic, got, err)
			}
		}
	}
	good := file(binary.LittleEndian, 0xa1b2c3d4, a)
	for name, b := range map[string][]byte{
		"short header":     good[:10],
		"bad magic":        append([]byte{0, 0, 0, 0}, good[4:]...),
		"truncated record": good[:len(good)-1],
	} {
		if _, err := Read(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	raw := file(binary.LittleEndian, 0xa1b2c3d4)
	raw[20] = 113 // Linux cooked capture
	if _, err := Read(bytes.NewReader(raw)); err == nil {
		t.Error("non-Ethernet link type accepted")
	}
}
