package loader

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
)

// Options configure Open. The zero value (plus a Name) is a consuming dataplane under /sys/fs/bpf.
type Options struct {
	// Name namespaces the pins: BPFFS/xalived/NAME/. Required.
	Name string
	// BPFFS is where a bpf filesystem is (or gets) mounted; default /sys/fs/bpf.
	BPFFS string
	// SocketPath: the daemon also reads adverts from a raw socket, so adverts of known
	// instances are passed to the kernel (XDP_PASS) instead of consumed (XDP_DROP).
	// Baked into the program at load time; adopting a program loaded otherwise fails.
	SocketPath bool
	// MaxInstances and MaxVIPs size the maps (defaults 1024 and 8192; bpf/consts.h).
	MaxInstances uint32
	MaxVIPs      uint32
	// RingBufferBytes sizes the event ring buffer (a power of two >= the page size; default 256 KiB).
	RingBufferBytes uint32
}

// MaxIPv6Ext is how many hop-by-hop / destination options headers the program walks before
// VRRP (bpf/consts.h MAX_IPV6_EXT); adverts behind longer chains pass to the kernel unchecked.
const MaxIPv6Ext = 4

// Dataplane is a loaded (or adopted) XDP program with its maps, pins and links.
// Its methods are safe for concurrent use.
type Dataplane struct {
	dir     string
	adopted bool
	prog    *ebpf.Program
	rodata  *ebpf.Map
	maps    xdpMaps
	ncpu    int

	mu     sync.Mutex
	links  map[int]link.Link          // by ifindex
	insts  map[InstanceKey]*instEntry // by key
	used   []bool                     // slots in use
	ifaces map[xdpXaIfKey]uint32      // interface (and VLAN) -> its base in vrid_index
}

type instEntry struct {
	slot   uint32
	state  State // mirror of the states map (this process is its only writer)
	vips   []xdpXaVipKey
	upeers []xdpXaUpeerKey
}

// ErrIncompatiblePins means objects pinned under the name come from a different build or
// different Options; RemovePins clears them (detaching the old program) before a fresh Open.
var ErrIncompatiblePins = errors.New("pinned objects are incompatible with this build")

const (
	pinProg   = "prog"
	pinRodata = "rodata"
	pinLink   = "link_"
)

// Dir returns the directory the objects are pinned in.
func (d *Dataplane) Dir() string { return d.dir }

// Adopted reports whether Open found and re-opened the pins of a previous process instead of
// loading the program (after a crash or a handover with Release).
func (d *Dataplane) Adopted() bool { return d.adopted }

// Open loads the program and pins it, or adopts the program, maps and links already pinned
// under BPFFS/xalived/NAME/ so that XDP keeps answering without a gap. It mounts a bpf
// filesystem at BPFFS if none is mounted there.
func Open(opts Options) (*Dataplane, error) {
	if opts.Name == "" || strings.ContainsAny(opts.Name, "/\x00") || opts.Name == "." || opts.Name == ".." {
		return nil, fmt.Errorf("open dataplane: invalid name %q", opts.Name)
	}
	if opts.BPFFS == "" {
		opts.BPFFS = "/sys/fs/bpf"
	}
	if err := ensureBPFFS(opts.BPFFS); err != nil {
		return nil, fmt.Errorf("open dataplane: %w", err)
	}
	dir := filepath.Join(opts.BPFFS, "xalived", opts.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open dataplane: %w", err)
	}
	spec, err := loadXdp()
	if err != nil {
		return nil, fmt.Errorf("open dataplane: %w", err)
	}
	if err := configureSpec(spec, opts); err != nil {
		return nil, fmt.Errorf("open dataplane: %w", err)
	}
	ncpu, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("open dataplane: %w", err)
	}
	d := &Dataplane{dir: dir, ncpu: ncpu, links: map[int]link.Link{}, insts: map[InstanceKey]*instEntry{},
		ifaces: map[xdpXaIfKey]uint32{}}
	if _, serr := os.Stat(filepath.Join(dir, pinProg)); serr == nil {
		err = d.adopt(spec)
	} else {
		err = d.load(spec)
	}
	if err != nil {
		d.closeFDs()
		return nil, fmt.Errorf("open dataplane %s: %w", dir, err)
	}
	d.used = make([]bool, d.maps.Configs.MaxEntries())
	if err := d.rebuild(); err != nil {
		d.closeFDs()
		return nil, fmt.Errorf("open dataplane %s: %w", dir, err)
	}
	return d, nil
}

func configureSpec(spec *ebpf.CollectionSpec, opts Options) error {
	v, ok := spec.Variables[xdpVarCfgSocketPath]
	if !ok {
		return fmt.Errorf("variable %s missing from the object", xdpVarCfgSocketPath)
	}
	var sp uint8
	if opts.SocketPath {
		sp = 1
	}
	if err := v.Set(sp); err != nil {
		return fmt.Errorf("set %s: %w", xdpVarCfgSocketPath, err)
	}
	n := opts.MaxInstances
	if n == 0 {
		n = 1024
	}
	for _, m := range []string{xdpMapConfigs, xdpMapStates, xdpMapPeers, xdpMapCounters} {
		spec.Maps[m].MaxEntries = n
	}
	if opts.RingBufferBytes != 0 {
		spec.Maps[xdpMapEvents].MaxEntries = opts.RingBufferBytes
	}
	if spec.Maps[xdpMapIfDirect].MaxEntries != ifindexDirect {
		return fmt.Errorf("if_direct has %d entries, the loader expects %d", spec.Maps[xdpMapIfDirect].MaxEntries, ifindexDirect)
	}
	if opts.MaxVIPs != 0 {
		spec.Maps[xdpMapVips].MaxEntries = opts.MaxVIPs
		spec.Maps[xdpMapVips4].MaxEntries = opts.MaxVIPs
	}
	return nil
}

// load loads a fresh collection; maps are pinned by name (an existing compatible pinned map,
// left by a crash before the program was pinned, is reused).
func (d *Dataplane) load(spec *ebpf.CollectionSpec) error {
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Maps: ebpf.MapOptions{PinPath: d.dir},
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return fmt.Errorf("load: %+v", ve)
		}
		if errors.Is(err, ebpf.ErrMapIncompatible) {
			return fmt.Errorf("load: %w: %w", ErrIncompatiblePins, err)
		}
		return fmt.Errorf("load: %w", err)
	}
	if err := coll.Assign(&d.maps); err != nil {
		coll.Close()
		return fmt.Errorf("assign maps: %w", err)
	}
	d.prog = coll.DetachProgram(xdpProgXalivedXdp)
	d.rodata = coll.DetachMap(".rodata")
	coll.Close() // the maps are assigned (Assign detaches them), nothing else is left
	if d.prog == nil || d.rodata == nil {
		return errors.New("load: program or .rodata missing from the object")
	}
	if err := d.prog.Pin(filepath.Join(d.dir, pinProg)); err != nil {
		return fmt.Errorf("pin program: %w", err)
	}
	if err := d.rodata.Pin(filepath.Join(d.dir, pinRodata)); err != nil {
		return fmt.Errorf("pin .rodata: %w", err)
	}
	return nil
}

// adopt re-opens what a previous process pinned: program, maps, links.
func (d *Dataplane) adopt(spec *ebpf.CollectionSpec) error {
	d.adopted = true
	var err error
	if d.prog, err = ebpf.LoadPinnedProgram(filepath.Join(d.dir, pinProg), nil); err != nil {
		return fmt.Errorf("adopt program: %w", err)
	}
	if d.rodata, err = ebpf.LoadPinnedMap(filepath.Join(d.dir, pinRodata), nil); err != nil {
		return fmt.Errorf("adopt .rodata: %w", err)
	}
	// The pinned program must be the one this build would load with these options.
	v := spec.Variables[xdpVarCfgSocketPath]
	got := make([]byte, d.rodata.ValueSize())
	if err := d.rodata.Lookup(uint32(0), got); err != nil {
		return fmt.Errorf("adopt .rodata: %w", err)
	}
	if int(v.Offset)+len(v.Value) > len(got) || !bytes.Equal(got[v.Offset:int(v.Offset)+len(v.Value)], v.Value) {
		return fmt.Errorf("adopt: %w: load-time constants differ (socket path option?)", ErrIncompatiblePins)
	}
	maps := map[string]**ebpf.Map{
		xdpMapConfigs: &d.maps.Configs, xdpMapIfaces: &d.maps.Ifaces, xdpMapIfDirect: &d.maps.IfDirect, xdpMapVridIndex: &d.maps.VridIndex,
		xdpMapSched: &d.maps.Sched, xdpMapInstGen: &d.maps.InstGen, xdpMapSlotLimit: &d.maps.SlotLimit, xdpMapStates: &d.maps.States, xdpMapPeers: &d.maps.Peers,
		xdpMapCounters: &d.maps.Counters, xdpMapGlobal: &d.maps.Global, xdpMapVips: &d.maps.Vips,
		xdpMapVips4: &d.maps.Vips4, xdpMapVip4Cache: &d.maps.Vip4Cache, xdpMapVipGen: &d.maps.VipGen, xdpMapEvents: &d.maps.Events, xdpMapUnicastPeers: &d.maps.UnicastPeers,
	}
	for name, dst := range maps {
		m, err := ebpf.LoadPinnedMap(filepath.Join(d.dir, name), nil)
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("adopt map %s: %w: not pinned (an older build?)", name, ErrIncompatiblePins)
		}
		if err != nil {
			return fmt.Errorf("adopt map %s: %w", name, err)
		}
		*dst = m
		ms := spec.Maps[name]
		if m.Type() != ms.Type || m.KeySize() != ms.KeySize || m.ValueSize() != ms.ValueSize || m.Flags() != ms.Flags {
			return fmt.Errorf("adopt map %s: %w", name, ErrIncompatiblePins)
		}
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("adopt links: %w", err)
	}
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), pinLink)
		if !ok {
			continue
		}
		ifindex, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		path := filepath.Join(d.dir, e.Name())
		l, err := link.LoadPinnedLink(path, nil)
		if err != nil {
			return fmt.Errorf("adopt link %s: %w", e.Name(), err)
		}
		// An interface that vanished leaves a defunct link behind: drop it.
		if info, err := l.Info(); err != nil || info.XDP() == nil || info.XDP().Ifindex != uint32(ifindex) {
			_ = l.Unpin()
			_ = l.Close()
			continue
		}
		d.links[ifindex] = l
	}
	return nil
}

// rebuild recovers slot and VIP bookkeeping from the maps (after an adoption).
func (d *Dataplane) rebuild() error {
	var slot uint32
	var c xdpXaInstConfig
	it := d.maps.Configs.Iterate()
	bySlot := map[uint32]*instEntry{}
	for it.Next(&slot, &c) {
		if c.Key.Ifindex == 0 {
			continue // free
		}
		if slot >= uint32(len(d.used)) {
			return fmt.Errorf("instance %s: slot %d out of range", keyFromRaw(c.Key), slot)
		}
		e := &instEntry{slot: slot}
		d.insts[keyFromRaw(c.Key)] = e
		d.used[slot] = true
		bySlot[slot] = e
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("read instances: %w", err)
	}
	var ik xdpXaIfKey
	var iv xdpXaIf
	iit := d.maps.Ifaces.Iterate()
	for iit.Next(&ik, &iv) {
		d.ifaces[ik] = iv.Base
	}
	if err := iit.Err(); err != nil {
		return fmt.Errorf("read interfaces: %w", err)
	}
	for _, e := range bySlot {
		var st xdpXaInstState
		if err := d.maps.States.Lookup(e.slot, &st); err != nil {
			return fmt.Errorf("read state of slot %d: %w", e.slot, err)
		}
		e.state = State(st.State)
	}
	var vk xdpXaVipKey
	var v xdpXaVip
	vit := d.maps.Vips.Iterate()
	for vit.Next(&vk, &v) {
		if e := bySlot[v.Slot]; e != nil {
			e.vips = append(e.vips, vk)
		}
	}
	if err := vit.Err(); err != nil {
		return fmt.Errorf("read vips: %w", err)
	}
	var vk4 xdpXaVip4Key
	vit = d.maps.Vips4.Iterate()
	for vit.Next(&vk4, &v) {
		if e := bySlot[v.Slot]; e != nil {
			k := xdpXaVipKey{Ifindex: vk4.Ifindex, Vlan: vk4.Vlan, Family: uint8(IPv4)}
			copy(k.Addr[:], vk4.Addr[:])
			e.vips = append(e.vips, k)
		}
	}
	if err := vit.Err(); err != nil {
		return fmt.Errorf("read vips4: %w", err)
	}
	var pk xdpXaUpeerKey
	var pv xdpXaUpeer
	pit := d.maps.UnicastPeers.Iterate()
	for pit.Next(&pk, &pv) {
		if e := bySlot[pk.Slot]; e != nil {
			e.upeers = append(e.upeers, pk)
		}
	}
	if err := pit.Err(); err != nil {
		return fmt.Errorf("read unicast peers: %w", err)
	}
	return nil
}

func (d *Dataplane) closeFDs() {
	for _, l := range d.links {
		_ = l.Close()
	}
	if d.prog != nil {
		_ = d.prog.Close()
	}
	if d.rodata != nil {
		_ = d.rodata.Close()
	}
	_ = d.maps.Close()
}

// Release closes every file descriptor but leaves the pins, so XDP keeps running exactly as a
// crash would leave it; the next Open with the same name adopts it. Use it for a handover to
// a new daemon binary; use Close for a clean stop.
func (d *Dataplane) Release() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closeFDs()
	d.links = map[int]link.Link{}
	return nil
}

// Close detaches the program from every interface, removes every pin and the pin directory,
// and closes everything: nothing is left attached or pinned (a clean stop).
func (d *Dataplane) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for ifindex, l := range d.links {
		if err := l.Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin link %d: %w", ifindex, err))
		}
	}
	for _, m := range []*ebpf.Map{d.maps.Configs, d.maps.Ifaces, d.maps.IfDirect, d.maps.VridIndex, d.maps.Sched, d.maps.InstGen, d.maps.SlotLimit, d.maps.States, d.maps.Peers, d.maps.Counters,
		d.maps.Global, d.maps.Vips, d.maps.Vips4, d.maps.Vip4Cache, d.maps.VipGen, d.maps.Events, d.maps.UnicastPeers, d.rodata} {
		if m != nil {
			if err := m.Unpin(); err != nil {
				errs = append(errs, fmt.Errorf("unpin map: %w", err))
			}
		}
	}
	if d.prog != nil {
		if err := d.prog.Unpin(); err != nil {
			errs = append(errs, fmt.Errorf("unpin program: %w", err))
		}
	}
	d.closeFDs()
	d.links = map[int]link.Link{}
	if err := os.Remove(d.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove %s: %w", d.dir, err))
	}
	_ = os.Remove(filepath.Dir(d.dir)) // BPFFS/xalived, if no other daemon uses it
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close dataplane: %w", err)
	}
	return nil
}

// RemovePins removes everything pinned under BPFFS/xalived/NAME/ by any process: the old
// program is detached from its interfaces once no process holds it open. Use it when Open
// reports ErrIncompatiblePins (an upgrade that changed the maps); a later Open loads afresh.
func RemovePins(bpffs, name string) error {
	if bpffs == "" {
		bpffs = "/sys/fs/bpf"
	}
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return fmt.Errorf("remove pins: invalid name %q", name)
	}
	dir := filepath.Join(bpffs, "xalived", name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove pins: %w", err)
	}
	return nil
}
