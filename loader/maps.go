package loader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrUnknownInstance is returned for a key that SetInstance never installed.
var ErrUnknownInstance = errors.New("unknown instance")

// ErrNotMaster is returned by RenewLease when the instance is not MASTER in the map.
var ErrNotMaster = errors.New("instance is not master")

// Now returns the program's clock (CLOCK_MONOTONIC, what bpf_ktime_get_ns reads).
func Now() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

func (in *Instance) validate() error {
	k := in.Key
	switch {
	case k.Family != IPv4 && k.Family != IPv6:
		return fmt.Errorf("family %d", k.Family)
	case k.Ifindex == 0:
		return errors.New("ifindex 0")
	case k.VLAN > 4094:
		return fmt.Errorf("vlan %d out of range", k.VLAN)
	case k.VRID == 0:
		return errors.New("vrid 0")
	case in.Version != 2 && in.Version != 3:
		return fmt.Errorf("version %d", in.Version)
	case in.Version == 2 && k.Family == IPv6:
		return errors.New("vrrp v2 is ipv4 only")
	case in.Version == 3 && in.AuthType != 0:
		return errors.New("vrrp v3 has no authentication")
	case in.AuthType > 1:
		return fmt.Errorf("auth type %d not handled in xdp (AH needs the socket path)", in.AuthType)
	case len(in.AuthPass) > 8:
		return errors.New("auth password longer than 8 bytes")
	case in.Interval == 0 || (in.Version == 2 && in.Interval > 255) || in.Interval > 4095:
		return fmt.Errorf("interval %d out of range", in.Interval)
	case len(in.VIPs) > 255:
		return fmt.Errorf("%d addresses, at most 255", len(in.VIPs))
	case len(in.VIPs) > 0 && len(in.ReplyMAC) != 6:
		return fmt.Errorf("reply mac %q is not 6 bytes", in.ReplyMAC)
	case in.LocalAddr.IsValid() && in.LocalAddr.Unmap().Is4() != (k.Family == IPv4):
		return fmt.Errorf("local address %s is not %s", in.LocalAddr, k.Family)
	}
	for _, a := range in.VIPs {
		if !a.IsValid() || a.Unmap().Is4() != (k.Family == IPv4) {
			return fmt.Errorf("address %s is not %s", a, k.Family)
		}
	}
	for _, p := range in.UnicastPeers {
		if !p.Addr.IsValid() || p.Addr.Unmap().Is4() != (k.Family == IPv4) {
			return fmt.Errorf("unicast peer %s is not %s", p.Addr, k.Family)
		}
	}
	return nil
}

func vipKey(k InstanceKey, a netip.Addr) xdpXaVipKey {
	return xdpXaVipKey{Ifindex: k.Ifindex, Vlan: k.VLAN, Family: uint8(k.Family), Addr: addrBytes(a.Unmap())}
}

// vipEntry returns the map that holds a VIP and its key there: IPv4 addresses live in vips4
// under a 12-byte key (cheaper to hash on every ARP request), IPv6 ones in vips.
func (d *Dataplane) vipEntry(vk xdpXaVipKey) (*ebpf.Map, any) {
	if vk.Family == uint8(IPv4) {
		k4 := xdpXaVip4Key{Ifindex: vk.Ifindex, Vlan: vk.Vlan}
		copy(k4.Addr[:], vk.Addr[:4])
		return d.maps.Vips4, &k4
	}
	return d.maps.Vips, &vk
}

func (d *Dataplane) lookupVIP(vk xdpXaVipKey, v *xdpXaVip) error {
	m, k := d.vipEntry(vk)
	return m.Lookup(k, v)
}

func (d *Dataplane) updateVIP(vk xdpXaVipKey, v *xdpXaVip) error {
	m, k := d.vipEntry(vk)
	return m.Update(k, v, ebpf.UpdateAny)
}

// bumpVIPGen invalidates every entry of the ARP responder's VIP cache (bpf/maps.h vip4_cache):
// called after any change to vips4.
func (d *Dataplane) bumpVIPGen() error {
	var g uint32
	if err := d.maps.VipGen.Lookup(uint32(0), &g); err != nil {
		return fmt.Errorf("vip generation: %w", err)
	}
	if err := d.maps.VipGen.Update(uint32(0), g+1, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("vip generation: %w", err)
	}
	return nil
}

// deleteVIP removes a VIP; one already gone is no error.
func (d *Dataplane) deleteVIP(vk xdpXaVipKey) error {
	m, k := d.vipEntry(vk)
	if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return err
	}
	return nil
}

// SetInstance installs or updates an instance's configuration and VIPs. A new instance starts
// in INIT with an empty peer record and zeroed counters; an update keeps state, peer and timer.
func (d *Dataplane) SetInstance(in Instance) error {
	if err := in.validate(); err != nil {
		return fmt.Errorf("set instance %s: %w", in.Key, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	e, existed := d.insts[in.Key]
	if !existed {
		idx, err := d.indexOf(in.Key)
		if err != nil {
			return fmt.Errorf("set instance %s: %w", in.Key, err)
		}
		defer func() {
			if d.insts[in.Key] == nil {
				_ = d.dropIface(in.Key) // failed: no base left behind for an unused interface
			}
		}()
		// The slot equal to the wire index if it is free: the program's fast path then
		// finds the peer record without reading vrid_index (xa_peer.wire).
		slot := -1
		if int(idx) < len(d.used) && !d.used[idx] {
			slot = int(idx)
		}
		for i, u := range d.used {
			if slot >= 0 {
				break
			}
			if !u {
				slot = i
			}
		}
		if slot < 0 {
			return fmt.Errorf("set instance %s: all %d slots in use", in.Key, len(d.used))
		}
		e = &instEntry{slot: uint32(slot)}
		wire := uint16(0)
		if uint32(slot) == idx {
			wire = uint16(idx + 1)
		}
		if err := d.resetSlot(e.slot, wire); err != nil {
			return fmt.Errorf("set instance %s: %w", in.Key, err)
		}
	}

	// VIPs: refuse addresses another instance answers for, then add, then drop stale ones.
	want := map[xdpXaVipKey]bool{}
	for _, a := range in.VIPs {
		vk := vipKey(in.Key, a)
		want[vk] = true
		var cur xdpXaVip
		if err := d.lookupVIP(vk, &cur); err == nil && (cur.Slot != e.slot || !existed) {
			return fmt.Errorf("set instance %s: address %s belongs to another instance", in.Key, a)
		}
	}
	var mac [6]uint8
	copy(mac[:], in.ReplyMAC)
	var added []xdpXaVipKey
	for vk := range want {
		v := xdpXaVip{Slot: e.slot, Flags: uint16(xdpXaVipFlagsXA_VIP_ANSWER), Mac: mac}
		if err := d.updateVIP(vk, &v); err != nil {
			for _, a := range added {
				_ = d.deleteVIP(a)
			}
			_ = d.bumpVIPGen()
			return fmt.Errorf("set instance %s: vip: %w", in.Key, err)
		}
		added = append(added, vk)
	}
	for _, vk := range e.vips {
		if !want[vk] {
			if err := d.deleteVIP(vk); err != nil {
				_ = d.bumpVIPGen()
				return fmt.Errorf("set instance %s: remove vip: %w", in.Key, err)
			}
		}
	}
	e.vips = added
	if err := d.bumpVIPGen(); err != nil {
		return fmt.Errorf("set instance %s: %w", in.Key, err)
	}

	// Unicast peers: write the wanted set, then drop stale ones.
	wantPeers := map[xdpXaUpeerKey]bool{}
	var peerKeys []xdpXaUpeerKey
	for _, p := range in.UnicastPeers {
		pk := xdpXaUpeerKey{Slot: e.slot, Addr: addrBytes(p.Addr.Unmap())}
		pv := xdpXaUpeer{MinTtl: p.MinTTL, MaxTtl: p.MaxTTL}
		if err := d.maps.UnicastPeers.Update(&pk, &pv, ebpf.UpdateAny); err != nil {
			return fmt.Errorf("set instance %s: unicast peer: %w", in.Key, err)
		}
		if !wantPeers[pk] {
			peerKeys = append(peerKeys, pk)
		}
		wantPeers[pk] = true
	}
	for _, pk := range e.upeers {
		if !wantPeers[pk] {
			if err := d.maps.UnicastPeers.Delete(&pk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
				return fmt.Errorf("set instance %s: remove unicast peer: %w", in.Key, err)
			}
		}
	}
	e.upeers = peerKeys

	cfg := xdpXaInstConfig{
		Key:         in.Key.raw(),
		Interval:    in.Interval,
		Version:     in.Version,
		Priority:    in.Priority,
		AuthType:    in.AuthType,
		VipCount:    uint8(len(in.VIPs)),
		DownAdverts: in.DownAdverts,
	}
	copy(cfg.AuthPass[:], in.AuthPass)
	cfg.AddrHash = addrListHash(in.VIPs)
	if in.LocalAddr.IsValid() {
		cfg.LocalAddr = addrBytes(in.LocalAddr.Unmap())
	}
	for _, m := range []struct {
		on  bool
		bit xdpXaMode
	}{
		{in.Unicast, xdpXaModeXA_MODE_UNICAST}, {in.NoPreempt, xdpXaModeXA_MODE_NOPREEMPT},
		{in.OwnerIgnoreAdverts, xdpXaModeXA_MODE_OWNER_IGNORE}, {in.CheckUnicastSrc, xdpXaModeXA_MODE_CHECK_UNICAST_SRC},
	} {
		if m.on {
			cfg.Mode |= uint16(m.bit)
		}
	}
	if err := d.maps.Configs.Update(e.slot, &cfg, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("set instance %s: %w", in.Key, err)
	}
	if !existed {
		// Found by the program from here on: the slot is ready.
		idx, err := d.indexOf(in.Key)
		if err != nil {
			_ = d.maps.Configs.Update(e.slot, &xdpXaInstConfig{}, ebpf.UpdateAny)
			return fmt.Errorf("set instance %s: %w", in.Key, err)
		}
		if err := d.maps.VridIndex.Update(idx, e.slot+1, ebpf.UpdateAny); err != nil {
			_ = d.maps.Configs.Update(e.slot, &xdpXaInstConfig{}, ebpf.UpdateAny)
			return fmt.Errorf("set instance %s: index: %w", in.Key, err)
		}
	}
	d.insts[in.Key] = e
	d.used[e.slot] = true
	if err := d.writeSlotLimit(); err != nil {
		return fmt.Errorf("set instance %s: %w", in.Key, err)
	}
	if err := d.bumpInstGen(); err != nil {
		return fmt.Errorf("set instance %s: %w", in.Key, err)
	}
	return nil
}

// bumpInstGen voids every snapshot of the program's fast path (bpf/vrrp.h fast_match): called
// after any write to configs, states (but lease renewals) or unicast_peers, so that the next
// advert of each instance is judged by the whole ladder against what was written. Never 0.
func (d *Dataplane) bumpInstGen() error {
	var g uint32
	if err := d.maps.InstGen.Lookup(uint32(0), &g); err != nil {
		return fmt.Errorf("instance generation: %w", err)
	}
	g++
	if g == 0 {
		g = 1
	}
	if err := d.maps.InstGen.Update(uint32(0), g, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("instance generation: %w", err)
	}
	return nil
}

// indexOf returns where the key's slot goes in vrid_index, giving its interface (and VLAN) a
// base there first if it has none.
func (d *Dataplane) indexOf(k InstanceKey) (uint32, error) {
	ik := xdpXaIfKey{Ifindex: k.Ifindex, Vlan: k.VLAN}
	base, ok := d.ifaces[ik]
	if !ok {
		taken := map[uint32]bool{}
		for _, b := range d.ifaces {
			taken[b] = true
		}
		n := d.maps.VridIndex.MaxEntries() / 512
		id := uint32(0)
		for id < n && taken[id*512] {
			id++
		}
		if id == n {
			return 0, fmt.Errorf("all %d interfaces in use", n)
		}
		base = id * 512
		// A base handed out before may still hold slots of instances deleted while the
		// program ran: clear it.
		for i := uint32(0); i < 512; i++ {
			if err := d.maps.VridIndex.Update(base+i, uint32(0), ebpf.UpdateAny); err != nil {
				return 0, fmt.Errorf("clear index: %w", err)
			}
		}
		if err := d.maps.Ifaces.Update(&ik, &xdpXaIf{Base: base}, ebpf.UpdateAny); err != nil {
			return 0, fmt.Errorf("interface: %w", err)
		}
		if direct(ik) {
			if err := d.maps.IfDirect.Update(ik.Ifindex, base+1, ebpf.UpdateAny); err != nil {
				_ = d.maps.Ifaces.Delete(&ik)
				return 0, fmt.Errorf("interface: %w", err)
			}
		}
		d.ifaces[ik] = base
	}
	off := uint32(k.VRID)
	if k.Family == IPv6 {
		off += 256
	}
	return base + off, nil
}

// dropIface forgets an interface (and VLAN) once no instance uses it.
func (d *Dataplane) dropIface(k InstanceKey) error {
	for o := range d.insts {
		if o.Ifindex == k.Ifindex && o.VLAN == k.VLAN {
			return nil
		}
	}
	ik := xdpXaIfKey{Ifindex: k.Ifindex, Vlan: k.VLAN}
	if direct(ik) {
		if err := d.maps.IfDirect.Update(ik.Ifindex, uint32(0), ebpf.UpdateAny); err != nil {
			return fmt.Errorf("interface: %w", err)
		}
	}
	if err := d.maps.Ifaces.Delete(&ik); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("interface: %w", err)
	}
	delete(d.ifaces, ik)
	return nil
}

// ifindexDirect is bpf/consts.h IFINDEX_DIRECT: untagged interfaces below it are found
// through if_direct (an array) as well as ifaces (the hash the program uses for the others).
const ifindexDirect = 16384

func direct(ik xdpXaIfKey) bool { return ik.Vlan == 0 && ik.Ifindex < ifindexDirect }

// writeSlotLimit tells the timer callback how far to scan: 1 + the highest slot in use.
func (d *Dataplane) writeSlotLimit() error {
	n := uint32(0)
	for i, u := range d.used {
		if u {
			n = uint32(i) + 1
		}
	}
	if err := d.maps.SlotLimit.Update(uint32(0), n, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("slot limit: %w", err)
	}
	return nil
}

// resetSlot gives a slot a clean state, peer (disarming its deadline) and counters; wire is
// xa_peer.wire.
func (d *Dataplane) resetSlot(slot uint32, wire uint16) error {
	if err := d.maps.States.Update(slot, xdpXaInstState{}, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("reset state: %w", err)
	}
	if err := d.maps.Peers.Update(slot, xdpXaPeer{Wire: wire}, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("reset peer: %w", err)
	}
	if err := d.maps.Counters.Update(slot, make([]xdpXaCounters, d.ncpu), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("reset counters: %w", err)
	}
	return nil
}

// DeleteInstance removes an instance: its adverts become unknown, its VIPs are no longer
// answered, and its master-down timer is cancelled.
func (d *Dataplane) DeleteInstance(key InstanceKey) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.insts[key]
	if !ok {
		return fmt.Errorf("delete instance %s: %w", key, ErrUnknownInstance)
	}
	idx, err := d.indexOf(key)
	if err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	if err := d.maps.VridIndex.Update(idx, uint32(0), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("delete instance %s: index: %w", key, err)
	}
	if err := d.bumpInstGen(); err != nil { // no fast path for it from here on
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	if err := d.maps.Configs.Update(e.slot, &xdpXaInstConfig{}, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	for _, vk := range e.vips {
		if err := d.deleteVIP(vk); err != nil {
			_ = d.bumpVIPGen()
			return fmt.Errorf("delete instance %s: vip: %w", key, err)
		}
	}
	if err := d.bumpVIPGen(); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	for _, pk := range e.upeers {
		if err := d.maps.UnicastPeers.Delete(&pk); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("delete instance %s: unicast peer: %w", key, err)
		}
	}
	if err := d.resetSlot(e.slot, 0); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	delete(d.insts, key)
	d.used[e.slot] = false
	if err := d.dropIface(key); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	if err := d.writeSlotLimit(); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	if err := d.bumpInstGen(); err != nil {
		return fmt.Errorf("delete instance %s: %w", key, err)
	}
	return nil
}

// Instances lists the installed instances (after an adoption: what the predecessor installed).
func (d *Dataplane) Instances() []InstanceKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]InstanceKey, 0, len(d.insts))
	for k := range d.insts {
		out = append(out, k)
	}
	return out
}

func (d *Dataplane) slot(key InstanceKey) (uint32, error) {
	e, ok := d.insts[key]
	if !ok {
		return 0, ErrUnknownInstance
	}
	return e.slot, nil
}

// SetState writes an instance's state. For StateMaster the VIPs are answered for lease from
// now; flip to BACKUP (or anything else) before announcing it, and the answering stops at once.
func (d *Dataplane) SetState(key InstanceKey, s State, lease time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.insts[key]
	if !ok {
		return fmt.Errorf("set state %s: %w", key, ErrUnknownInstance)
	}
	st := xdpXaInstState{State: uint32(s)}
	if s == StateMaster {
		st.LeaseUntilNs = uint64(Now() + lease)
	}
	if err := d.maps.States.Update(e.slot, &st, ebpf.UpdateAny); err != nil {
		return fmt.Errorf("set state %s: %w", key, err)
	}
	changed := e.state != s
	e.state = s
	if !changed {
		return nil // the same state (a MASTER's new lease): snapshots stay valid
	}
	if err := d.bumpInstGen(); err != nil {
		return fmt.Errorf("set state %s: %w", key, err)
	}
	return nil
}

// RenewLease extends a MASTER's lease to lease from now (call it with every advert sent).
func (d *Dataplane) RenewLease(key InstanceKey, lease time.Duration) error {
	return d.RenewLeases([]InstanceKey{key}, lease)
}

// RenewLeases renews the leases of several MASTER instances with one system call (the
// adverts of one tick). Nothing is written if any of them is unknown or not MASTER.
func (d *Dataplane) RenewLeases(keys []InstanceKey, lease time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	slots := make([]uint32, 0, len(keys))
	for _, k := range keys {
		e, ok := d.insts[k]
		if !ok {
			return fmt.Errorf("renew lease %s: %w", k, ErrUnknownInstance)
		}
		if e.state != StateMaster {
			return fmt.Errorf("renew lease %s: %w", k, ErrNotMaster)
		}
		slots = append(slots, e.slot)
	}
	until := uint64(Now() + lease)
	vals := make([]xdpXaInstState, len(slots))
	for i := range vals {
		vals[i] = xdpXaInstState{State: uint32(StateMaster), LeaseUntilNs: until}
	}
	switch len(slots) {
	case 0:
		return nil
	case 1:
		if err := d.maps.States.Update(slots[0], &vals[0], ebpf.UpdateAny); err != nil {
			return fmt.Errorf("renew lease %s: %w", keys[0], err)
		}
	default:
		if _, err := d.maps.States.BatchUpdate(slots, vals, nil); err != nil {
			return fmt.Errorf("renew %d leases: %w", len(slots), err)
		}
	}
	return nil
}

// StateOf reads an instance's state and lease expiry (CLOCK_MONOTONIC).
func (d *Dataplane) StateOf(key InstanceKey) (State, time.Duration, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	slot, err := d.slot(key)
	if err != nil {
		return 0, 0, fmt.Errorf("state of %s: %w", key, err)
	}
	var st xdpXaInstState
	if err := d.maps.States.Lookup(slot, &st); err != nil {
		return 0, 0, fmt.Errorf("state of %s: %w", key, err)
	}
	return State(st.State), time.Duration(st.LeaseUntilNs), nil
}

// ReadPeer returns the instance's peer record: the master the program last accepted.
func (d *Dataplane) ReadPeer(key InstanceKey) (Peer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	slot, err := d.slot(key)
	if err != nil {
		return Peer{}, fmt.Errorf("read peer %s: %w", key, err)
	}
	var p xdpXaPeer
	if err := d.maps.Peers.Lookup(slot, &p); err != nil {
		return Peer{}, fmt.Errorf("read peer %s: %w", key, err)
	}
	// While the deadline is pending it is the last advert plus the interval (repeated adverts
	// move only the deadline); once it expired, last_seen_ns holds the last advert.
	last := p.LastSeenNs
	if p.DueNs != 0 {
		last = p.DueNs - p.DownNs
	}
	if last == 0 {
		return Peer{}, nil
	}
	return Peer{
		Addr:     addrFrom(key.Family, p.Addr),
		Priority: p.Priority,
		Interval: p.Interval,
		LastSeen: time.Duration(last),
		DownIn:   time.Duration(p.DownNs),
	}, nil
}

// Counters returns an instance's counters summed over CPUs.
func (d *Dataplane) Counters(key InstanceKey) (Counters, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	slot, err := d.slot(key)
	if err != nil {
		return Counters{}, fmt.Errorf("counters %s: %w", key, err)
	}
	c, err := d.sum(d.maps.Counters, slot)
	if err != nil {
		return Counters{}, fmt.Errorf("counters %s: %w", key, err)
	}
	// Valid adverts count in the peer record (bpf/types.h xa_peer.accepted).
	var p xdpXaPeer
	if err := d.maps.Peers.Lookup(slot, &p); err != nil {
		return Counters{}, fmt.Errorf("counters %s: peer: %w", key, err)
	}
	c.Adverts[0] += p.Accepted
	return c, nil
}

// TimerStats describes the program's one master-down timer (bpf/types.h xa_sched).
type TimerStats struct {
	Runs    uint64        // callbacks
	RunTime time.Duration // their total run time: outside the program's run-time statistics
	Scanned uint64        // slots the callbacks looked at
}

// Timer returns the master-down timer's statistics.
func (d *Dataplane) Timer() (TimerStats, error) {
	var s xdpXaSched
	if err := d.maps.Sched.Lookup(uint32(0), &s); err != nil {
		return TimerStats{}, fmt.Errorf("timer: %w", err)
	}
	return TimerStats{Runs: s.Runs, RunTime: time.Duration(s.RunNs), Scanned: s.Scanned}, nil
}

// GlobalCounters counts adverts that matched no instance (DropTruncated, DropUnknownVRID).
func (d *Dataplane) GlobalCounters() (Counters, error) {
	c, err := d.sum(d.maps.Global, 0)
	if err != nil {
		return Counters{}, fmt.Errorf("global counters: %w", err)
	}
	return c, nil
}

func (d *Dataplane) sum(m *ebpf.Map, slot uint32) (Counters, error) {
	var per []xdpXaCounters
	if err := m.Lookup(slot, &per); err != nil {
		return Counters{}, err
	}
	var c Counters
	for _, p := range per {
		for i := range c.Adverts {
			c.Adverts[i] += p.Adverts[i]
		}
		for i := range c.Notes {
			c.Notes[i] += p.Notes[i]
		}
		c.PrioZero += p.PrioZero
		c.ARPReplies += p.ArpReplies
		c.NAReplies += p.NaReplies
		c.LeaseDrops += p.LeaseDrops
		c.MasterDown += p.MasterDown
		c.Events += p.Events
		c.EventsLost += p.EventsLost
	}
	return c, nil
}

// addrListHash is the order-independent hash of an address list that the program computes over
// an advert's addresses (bpf/parse.h csum_step): per address, fold its 32-bit words (in memory
// order) through mix64, then add the results.
func addrListHash(addrs []netip.Addr) uint64 {
	var h uint64
	for _, a := range addrs {
		b := a.Unmap().AsSlice()
		var part uint64
		for i := 0; i+4 <= len(b); i += 4 {
			part = mix64(part ^ uint64(binary.NativeEndian.Uint32(b[i:])))
		}
		h += part
	}
	return h
}

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
