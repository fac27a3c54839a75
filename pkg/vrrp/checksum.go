package vrrp

import (
	"encoding/binary"
	"net/netip"
)

// sum16 adds b as big-endian 16-bit words to s (RFC 1071), without folding.
func sum16(s uint32, b []byte) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// pseudoSum is the pseudo-header part of the sum: IPv4 (src, dst, 0, proto, len16) or
// IPv6 (src, dst, len32, 0, next header) per RFC 8200 §8.1.
func pseudoSum(src, dst netip.Addr, n int) uint32 {
	var s uint32
	s = sum16(s, src.AsSlice())
	s = sum16(s, dst.AsSlice())
	s += IPProtocol
	s += uint32(n) & 0xffff
	s += uint32(n) >> 16
	return s
}

// usesPseudo reports whether a message of version over the family of src is checksummed with
// a pseudo-header under form.
func usesPseudo(version uint8, src netip.Addr, form ChecksumForm) bool {
	if version == Version2 {
		return false
	}
	if src.Is6() && !src.Is4In6() {
		return true
	}
	return form == ChecksumPseudo
}

// ComputeChecksum returns the checksum msg should carry; the checksum field in msg is
// treated as zero.
func ComputeChecksum(msg []byte, version uint8, src, dst netip.Addr, form ChecksumForm) uint16 {
	var s uint32
	if usesPseudo(version, src, form) {
		s = pseudoSum(src, dst, len(msg))
	}
	if len(msg) < HeaderLen {
		return fold(sum16(s, msg))
	}
	s = sum16(s, msg[:6]) // the checksum field at 6..7 counts as zero
	s = sum16(s, msg[8:])
	return fold(s)
}

// VerifyChecksum reports whether the checksum in msg is valid for the given form.
func VerifyChecksum(msg []byte, version uint8, src, dst netip.Addr, form ChecksumForm) bool {
	var s uint32
	if usesPseudo(version, src, form) {
		s = pseudoSum(src, dst, len(msg))
	}
	return fold(sum16(s, msg)) == 0
}

// SetChecksum recomputes the checksum of an encoded message in place, e.g. once per
// unicast peer when the pseudo-header destination changes.
func SetChecksum(msg []byte, version uint8, src, dst netip.Addr, form ChecksumForm) {
	if len(msg) < HeaderLen {
		return
	}
	msg[6], msg[7] = 0, 0
	binary.BigEndian.PutUint16(msg[6:8], ComputeChecksum(msg, version, src, dst, form))
}
