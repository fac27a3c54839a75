package loader

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/cilium/ebpf/link"
)

// Mode is how the program attaches to an interface.
type Mode int

// Attach modes.
const (
	ModeNative  Mode = iota // in the driver (veth, most physical NICs)
	ModeGeneric             // after the skb is built; works everywhere, slower
)

func (m Mode) String() string {
	if m == ModeGeneric {
		return "generic"
	}
	return "native"
}

// Attach attaches the program to an interface and pins the link as link_IFINDEX. Attaching
// an interface that is already attached (for instance an adopted link) is a no-op.
func (d *Dataplane) Attach(ifindex int, mode Mode) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.links[ifindex]; ok {
		return nil
	}
	flags := link.XDPDriverMode
	if mode == ModeGeneric {
		flags = link.XDPGenericMode
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: d.prog, Interface: ifindex, Flags: flags})
	if err != nil {
		return fmt.Errorf("attach xdp to ifindex %d (%s): %w", ifindex, mode, err)
	}
	if err := l.Pin(filepath.Join(d.dir, pinLink+strconv.Itoa(ifindex))); err != nil {
		_ = l.Close()
		return fmt.Errorf("pin link of ifindex %d: %w", ifindex, err)
	}
	d.links[ifindex] = l
	return nil
}

// Detach removes the program from an interface (and its pin). Unknown interfaces are a no-op.
func (d *Dataplane) Detach(ifindex int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	l, ok := d.links[ifindex]
	if !ok {
		return nil
	}
	delete(d.links, ifindex)
	err := l.Unpin()
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("detach ifindex %d: %w", ifindex, err)
	}
	return nil
}

// Attached lists the interfaces the program is attached to, in order.
func (d *Dataplane) Attached() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]int, 0, len(d.links))
	for i := range d.links {
		out = append(out, i)
	}
	sort.Ints(out)
	return out
}
