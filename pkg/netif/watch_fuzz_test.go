package netif

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// nlmsg builds one netlink message.
func nlmsg(typ uint16, body []byte) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN, unix.NLMSG_HDRLEN+len(body)+4)
	b = append(b, body...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(unix.NLMSG_HDRLEN+len(body)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	return b
}

func rtattr(typ uint16, v []byte) []byte {
	b := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(b[0:], uint16(4+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func linkMsg(typ uint16, index int32, flags uint32, name string) []byte {
	body := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(body[4:], uint32(index))
	binary.NativeEndian.PutUint32(body[8:], flags)
	body = append(body, rtattr(unix.IFLA_IFNAME, append([]byte(name), 0))...)
	return nlmsg(typ, body)
}

func TestWatcherParse(t *testing.T) {
	w := &Watcher{links: map[int]linkState{3: {name: "eth0", up: true}}}
	up := uint32(unix.IFF_UP | unix.IFF_RUNNING)
	addr := nlmsg(unix.RTM_NEWADDR, append([]byte{unix.AF_INET, 24, 0, 0, 3, 0, 0, 0},
		append(rtattr(unix.IFA_ADDRESS, []byte{198, 51, 100, 9}), rtattr(unix.IFA_LOCAL, []byte{198, 51, 100, 9})...)...))
	var msg []byte
	msg = append(msg, linkMsg(unix.RTM_NEWLINK, 3, up, "eth0")...)          // no change: nothing
	msg = append(msg, linkMsg(unix.RTM_NEWLINK, 3, unix.IFF_UP, "eth0")...) // carrier lost
	msg = append(msg, linkMsg(unix.RTM_NEWLINK, 9, up, "eth9")...)          // new
	msg = append(msg, addr...)
	msg = append(msg, linkMsg(unix.RTM_DELLINK, 9, 0, "eth9")...)
	msg = append(msg, linkMsg(unix.RTM_DELLINK, 99, 0, "never")...) // unknown: nothing
	evs := w.parse(msg)
	want := []Event{
		{Kind: LinkDown, IfIndex: 3, IfName: "eth0"},
		{Kind: LinkAppeared, IfIndex: 9, IfName: "eth9", Up: true},
		{Kind: AddrAdded, IfIndex: 3, IfName: "eth0"},
		{Kind: LinkVanished, IfIndex: 9, IfName: "eth9"},
	}
	if len(evs) != len(want) {
		t.Fatalf("events %+v", evs)
	}
	for i := range want {
		got := evs[i]
		if i == 2 {
			if got.Addr.String() != "198.51.100.9/24" {
				t.Errorf("address %s", got.Addr)
			}
			got.Addr = want[i].Addr
		}
		if got != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got, want[i])
		}
	}
}

func FuzzWatcherParse(f *testing.F) {
	f.Add(linkMsg(unix.RTM_NEWLINK, 3, unix.IFF_UP, "eth0"))
	f.Add(nlmsg(unix.RTM_NEWADDR, append([]byte{unix.AF_INET6, 64, 0, 0, 3, 0, 0, 0},
		rtattr(unix.IFA_ADDRESS, make([]byte, 16))...)))
	f.Add(nlmsg(unix.RTM_DELADDR, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		w := &Watcher{links: map[int]linkState{}}
		for _, e := range w.parse(b) {
			if e.Kind == 0 || e.Kind > Resync {
				t.Fatalf("bad event %+v", e)
			}
		}
	})
}
