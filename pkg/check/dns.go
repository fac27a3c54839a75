package check

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

var dnsTypes = map[string]uint16{"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}

// dnsQuery builds a recursive query for name/type with the given id.
func dnsQuery(id uint16, name string, qtype uint16) ([]byte, error) {
	b := make([]byte, 12, 512)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(b[4:], 1)
	name = strings.TrimSuffix(name, ".")
	if name != "" {
		for _, label := range strings.Split(name, ".") {
			if len(label) == 0 || len(label) > 63 {
				return nil, fmt.Errorf("dns name %q: bad label", name)
			}
			b = append(b, byte(len(label)))
			b = append(b, label...)
		}
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1) // IN
	return b, nil
}

// dnsCheckReply accepts a reply to id that is a response with RCODE NOERROR and at least one
// answer record.
func dnsCheckReply(b []byte, id uint16) error {
	if len(b) < 12 {
		return errors.New("dns reply too short")
	}
	if binary.BigEndian.Uint16(b[0:]) != id {
		return errors.New("dns reply id mismatch")
	}
	flags := binary.BigEndian.Uint16(b[2:])
	if flags&0x8000 == 0 {
		return errors.New("dns reply is not a response")
	}
	if rc := flags & 0xf; rc != 0 {
		return fmt.Errorf("dns rcode %d", rc)
	}
	if binary.BigEndian.Uint16(b[6:]) == 0 {
		return errors.New("dns reply has no answer")
	}
	return nil
}

// probeDNS sends one UDP query and waits for a good reply until the deadline.
func probeDNS(ctx context.Context, s Spec) (Outcome, error) {
	qtype, name := "SOA", "."
	if s.DNS != nil {
		if s.DNS.Type != "" {
			qtype = strings.ToUpper(s.DNS.Type)
		}
		if s.DNS.Name != "" {
			name = s.DNS.Name
		}
	}
	var idb [2]byte
	_, _ = rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	q, err := dnsQuery(id, name, dnsTypes[qtype])
	if err != nil {
		return Outcome{}, err
	}
	conn, err := dial(ctx, "udp", s.Common)
	if err != nil {
		return Outcome{}, err
	}
	defer conn.Close()
	stop := withDeadline(ctx, conn)
	defer stop()
	if _, err := conn.Write(q); err != nil {
		return Outcome{}, fmt.Errorf("dns send: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return Outcome{}, fmt.Errorf("dns receive: %w", err)
		}
		if n >= 2 && binary.BigEndian.Uint16(buf) != id {
			continue // a stale reply
		}
		if err := dnsCheckReply(buf[:n], id); err != nil {
			return Outcome{}, err
		}
		return Outcome{OK: true}, nil
	}
}
