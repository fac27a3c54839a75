package lvs

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/moby/ipvs"
	"golang.org/x/sys/unix"
)

// Options configure a Reconciler.
type Options struct {
	// NetNS is the path of the network namespace whose IPVS table to manage ("" for the caller's).
	NetNS string
	// StateFile, when set, records the services this reconciler applied, so that after a crash
	// the next process still knows which kernel services are its own (and removes those no longer
	// configured) while leaving every other service alone.
	StateFile string
}

// Changes counts what one Apply or Shutdown did to the kernel.
type Changes struct {
	ServicesAdded, ServicesUpdated, ServicesRemoved int
	DestsAdded, DestsUpdated, DestsRemoved          int
}

// Total is the number of kernel operations.
func (c Changes) Total() int {
	return c.ServicesAdded + c.ServicesUpdated + c.ServicesRemoved + c.DestsAdded + c.DestsUpdated + c.DestsRemoved
}

func (c Changes) String() string {
	return fmt.Sprintf("services +%d ~%d -%d, destinations +%d ~%d -%d", c.ServicesAdded, c.ServicesUpdated,
		c.ServicesRemoved, c.DestsAdded, c.DestsUpdated, c.DestsRemoved)
}

// Reconciler keeps the kernel's IPVS table equal to a desired set of services, touching only
// services it owns. Its methods are safe for concurrent use; netlink traffic is serialised.
type Reconciler struct {
	mu    sync.Mutex
	h     *ipvs.Handle // reads
	w     *writer      // writes, batched
	opts  Options
	owned map[Key]bool
	// applied is what the last Apply put in the kernel per service (normalized). Apply sends the
	// difference between it and the new desired state without reading the kernel; Resync clears
	// it to force a full comparison.
	applied map[Key]Service
	// last is a copy of the desired list of the last Apply that succeeded (applied holds it,
	// normalized), for applySame; nil when unknown.
	last []Service
	// dumps counts reads of the whole service list (tests check that a reload does none).
	dumps int
}

// New opens IPVS in the given namespace. On a kernel without IPVS it returns an error that
// matches ErrNoIPVS and says what is missing.
func New(opts Options) (*Reconciler, error) {
	if err := Detect(opts.NetNS); err != nil {
		return nil, err
	}
	h, err := ipvs.New(opts.NetNS)
	if err != nil {
		return nil, fmt.Errorf("ipvs netlink: %w", err)
	}
	w, err := newWriter(opts.NetNS)
	if err != nil {
		h.Close()
		return nil, err
	}
	r := &Reconciler{h: h, w: w, opts: opts, owned: map[Key]bool{}, applied: map[Key]Service{}}
	if opts.StateFile != "" {
		keys, err := readState(opts.StateFile)
		if err != nil {
			r.Close()
			return nil, err
		}
		for _, k := range keys {
			r.owned[k] = true
		}
	}
	return r, nil
}

// Close releases the netlink socket; the kernel state stays as it is (see Shutdown).
func (r *Reconciler) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h != nil {
		r.h.Close()
		r.w.close()
		r.h, r.w = nil, nil
	}
}

// Owned returns the keys of the services this reconciler considers its own, sorted.
func (r *Reconciler) Owned() []Key {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := make([]Key, 0, len(r.owned))
	for k := range r.owned {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, Key.compare)
	return keys
}

// Apply makes the kernel hold the desired services: it adds what is missing, updates in place
// what differs (scheduler, flags, persistence; destination weight, forwarding method,
// thresholds), removes services and destinations of ours that are no longer desired, and leaves
// every service that is not ours alone. A failure on one service does not stop the others; all
// failures are returned joined.
//
// The first Apply reads the kernel's whole table and compares every service. Afterwards Apply
// trusts what it applied: it compares the desired state with the previous desired state and sends
// only the difference, without dumping the table (a reload that changes one weight sends one
// request). Services it has not applied yet are read from the kernel one by one (the whole table
// when there are many), and a request the kernel refuses because the table changed behind our
// back makes Apply compare that service with the kernel again. Resync compares every service and
// destination with the kernel (call it periodically to undo changes made behind our back).

func (r *Reconciler) Apply(desired []Service) (Changes, error) {
	return r.apply(desired, false)
}

// Resync is Apply with every service and destination read back from the kernel.
func (r *Reconciler) Resync(desired []Service) (Changes, error) {
	return r.apply(desired, true)
}

// maxSingleReads is how many services Apply reads from the kernel one by one before it reads the
// whole table instead.
const maxSingleReads = 32

func (r *Reconciler) apply(desired []Service, full bool) (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return Changes{}, errClosed
	}
	var pre Changes
	if !full && r.last != nil {
		ch, done, err := r.applySame(desired)
		if done {
			return ch, err
		}
		pre = ch
	}
	r.last = nil
	ch, err := r.applyWant(desired, full)
	if err == nil {
		r.last = deepCopy(desired)
	}
	return add(pre, ch), err
}

// deepCopy copies services and their destinations (into one array), so that the caller may
// change its own afterwards.
func deepCopy(services []Service) []Service {
	n := 0
	for _, s := range services {
		n += len(s.Destinations)
	}
	out := slices.Clone(services)
	ds := make([]Destination, 0, n)
	for i := range out {
		at := len(ds)
		ds = append(ds, out[i].Destinations...)
		out[i].Destinations = ds[at:len(ds):len(ds)]
	}
	return out
}

// applyWant is apply through the keyed comparison.
func (r *Reconciler) applyWant(desired []Service, full bool) (Changes, error) {
	want, err := normalizeAll(desired)
	if err != nil {
		return Changes{}, fmt.Errorf("desired ipvs state: %w", err)
	}
	if full {
		clear(r.applied)
	}
	if !full && len(r.applied) > 0 {
		unknown := 0
		for k := range want {
			if _, ok := r.applied[k]; !ok {
				unknown++
			}
		}
		if unknown <= maxSingleReads {
			ch, failed, err := r.applyIncremental(want)
			if len(failed) == 0 {
				return ch, err
			}
			// The kernel refused changes to some services (the table changed behind our back):
			// compare those with the kernel and report what remains wrong.
			for k := range failed {
				delete(r.applied, k)
			}
			ch2, err2 := r.applyRead(want)
			return add(ch, ch2), err2
		}
	}
	return r.applyRead(want)
}

// applySame is Apply for desired services listed like the last ones applied without error
// (r.last): the same keys in the same order, as a reload or a change of health gives. It compares
// them position by position, without building a map of the whole state, and sends the
// difference. done is false (with nothing sent) when the list is not the same, or when the kernel
// refused a request: the caller then compares with the keyed path, which reads those services
// from the kernel.
func (r *Reconciler) applySame(desired []Service) (Changes, bool, error) {
	ops, touched, changed, ok, err := diffSame(r.last, desired, r.applied)
	if !ok || err != nil {
		return Changes{}, ok, err
	}
	done, werrs := r.w.run(ops)
	if len(werrs) > 0 {
		// The table changed behind our back: what those services hold is unknown now.
		for _, n := range touched {
			delete(r.applied, n.Key)
		}
		r.last = nil
		return count(done), false, nil
	}
	for _, n := range touched {
		r.applied[n.Key] = n
	}
	for _, i := range changed {
		s := desired[i]
		s.Destinations = slices.Clone(s.Destinations)
		r.last[i] = s
	}
	return count(done), true, nil
}

// diffSame compares desired with last, the desired list applied before (applied holding it
// normalized), position by position: it returns the requests that change the kernel, the
// services they touch (normalized copies) and the positions that differ from last, or ok false
// when the lists are not laid out the same, or an error (with ok true) when a changed service
// is invalid.
func diffSame(last, desired []Service, applied map[Key]Service) (ops []op, touched []Service, changed []int, ok bool, err error) {
	if len(last) != len(desired) {
		return nil, nil, nil, false, nil
	}
	for i := range desired {
		d, l := &desired[i], &last[i]
		if d.Key != l.Key {
			return nil, nil, nil, false, nil
		}
		if !sameRaw(d, l) {
			changed = append(changed, i)
		}
	}
	touched = make([]Service, 0, len(changed))
	for _, i := range changed {
		n := desired[i].normalize()
		if err := n.validate(); err != nil {
			return nil, nil, nil, true, fmt.Errorf("desired ipvs state: %w", err) // nothing changed
		}
		prev, found := applied[n.Key]
		if !found {
			return nil, nil, nil, false, nil
		}
		if !prev.equal(n) {
			ops = append(ops, diffDests(n, prev.sameAttrs(n), prev.Destinations)...)
			touched = append(touched, n)
		}
	}
	return ops, touched, changed, true, nil
}

// sameRaw reports whether two desired services (not normalized) are the same.
func sameRaw(a, b *Service) bool {
	if a.Key != b.Key || a.Scheduler != b.Scheduler || a.Flags != b.Flags || a.Timeout != b.Timeout ||
		a.Netmask != b.Netmask || a.PEName != b.PEName || len(a.Destinations) != len(b.Destinations) {
		return false
	}
	return slices.Equal(a.Destinations, b.Destinations)
}

// normalizeAll validates and normalizes the desired services, keyed.
func normalizeAll(desired []Service) (map[Key]Service, error) {
	want := make(map[Key]Service, len(desired))
	for _, s := range desired {
		n := s.normalize()
		if err := n.validate(); err != nil {
			return nil, err
		}
		if _, dup := want[n.Key]; dup {
			return nil, fmt.Errorf("service %s: listed twice", n.Key)
		}
		want[n.Key] = n
	}
	return want, nil
}

func add(a, b Changes) Changes {
	return Changes{a.ServicesAdded + b.ServicesAdded, a.ServicesUpdated + b.ServicesUpdated, a.ServicesRemoved + b.ServicesRemoved,
		a.DestsAdded + b.DestsAdded, a.DestsUpdated + b.DestsUpdated, a.DestsRemoved + b.DestsRemoved}
}

// applyIncremental sends the difference between the previous desired state (r.applied) and want
// without reading the table, except single services not applied before. It returns the keys of
// the services whose requests failed; their state is unknown and must be read again.
func (r *Reconciler) applyIncremental(want map[Key]Service) (Changes, map[Key]bool, error) {
	var ops []op
	var errs []error
	failed := map[Key]bool{}
	ownedBefore := len(r.owned)
	// Remove ours that are no longer wanted first: frees addresses for re-use. A service of ours
	// that is already gone fails with ESRCH, which is what we want.
	var gone []Key
	for k := range r.owned {
		if _, ok := want[k]; ok {
			continue
		}
		svc, ok := r.applied[k]
		if !ok {
			svc = Service{Key: k}
		}
		delete(r.applied, k)
		gone = append(gone, k)
		ops = append(ops, op{cmd: cmdDelService, svc: svc})
	}
	dops, touched, unknown := diffApplied(r.applied, want)
	ops = append(ops, dops...)
	for _, k := range touched {
		r.owned[k] = true
		delete(r.applied, k)
	}
	for _, k := range unknown {
		s := want[k]
		r.owned[k] = true
		hs, err := r.h.GetService(toMoby(s))
		if err != nil {
			hs = nil // not in the kernel (ESRCH), or unreadable: adding it says which
		}
		sops, err := r.diffService(s, hs)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", k, err))
			failed[k] = true
			continue
		}
		ops = append(ops, sops...)
		touched = append(touched, k)
	}
	done, werrs := r.w.run(ops)
	unattributed := false
	for _, e := range werrs {
		var oe *opError
		switch {
		case !errors.As(e, &oe):
			unattributed = true
		case oe.op.cmd == cmdDelService && errors.Is(oe.err, unix.ESRCH):
			continue // already gone
		default:
			failed[oe.key] = true
		}
		errs = append(errs, e)
	}
	for _, k := range touched {
		if !failed[k] {
			r.applied[k] = want[k]
		}
	}
	for _, k := range gone {
		if !failed[k] {
			delete(r.owned, k)
		}
	}
	if len(r.owned) != ownedBefore || len(gone) > 0 {
		if err := r.saveState(); err != nil {
			errs = append(errs, err)
		}
	}
	if unattributed {
		// A write failed without naming its service (the socket): read everything again.
		for _, k := range touched {
			failed[k] = true
		}
	}
	return count(done), failed, joinLimited(errs)
}

// diffApplied compares the desired services with those applied before: it returns the requests
// that change the applied ones into the desired ones, the keys of the services those requests
// touch, and the keys of the desired services not applied before (both sorted).
func diffApplied(applied, want map[Key]Service) (ops []op, touched, unknown []Key) {
	for k, s := range want {
		prev, ok := applied[k]
		switch {
		case !ok:
			unknown = append(unknown, k)
		case !prev.equal(s):
			touched = append(touched, k)
		}
	}
	slices.SortFunc(touched, Key.compare)
	slices.SortFunc(unknown, Key.compare)
	for _, k := range touched {
		s, prev := want[k], applied[k]
		ops = append(ops, diffDests(s, prev.sameAttrs(s), prev.Destinations)...)
	}
	return ops, touched, unknown
}

// applyRead reads the kernel's service list and compares every desired service with it; the
// destinations of a service are read unless it is unchanged since it was last applied.
func (r *Reconciler) applyRead(want map[Key]Service) (Changes, error) {
	have, err := r.readServices()
	if err != nil {
		return Changes{}, err
	}
	var ops []op
	var errs []error
	// Remove ours that are no longer wanted first: frees addresses for re-use.
	for k := range r.owned {
		if _, ok := want[k]; ok {
			continue
		}
		delete(r.applied, k)
		if hs, ok := have[k]; ok {
			ops = append(ops, op{cmd: cmdDelService, svc: fromMoby(hs)})
		}
	}
	keys := make([]Key, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, Key.compare)
	var touched []Key
	for _, k := range keys {
		s := want[k]
		r.owned[k] = true
		hs := have[k]
		if prev, ok := r.applied[k]; ok && hs != nil && prev.sameAttrs(fromMoby(hs)) && prev.equal(s) {
			continue
		}
		delete(r.applied, k)
		sops, err := r.diffService(s, hs)
		if err != nil {
			errs = append(errs, fmt.Errorf("service %s: %w", k, err))
			continue
		}
		ops = append(ops, sops...)
		touched = append(touched, k)
	}
	done, werrs := r.w.run(ops)
	failed := map[Key]bool{}
	for _, e := range werrs {
		var oe *opError
		if errors.As(e, &oe) {
			failed[oe.key] = true
		}
	}
	for _, k := range touched {
		if !failed[k] {
			r.applied[k] = want[k]
		}
	}
	// A service of ours that is neither wanted nor (any longer) in the kernel is not ours.
	for k := range r.owned {
		if _, ok := want[k]; ok {
			continue
		}
		if _, ok := have[k]; !ok || !failed[k] {
			delete(r.owned, k)
		}
	}
	errs = append(errs, werrs...)
	if err := r.saveState(); err != nil {
		errs = append(errs, err)
	}
	return count(done), joinLimited(errs)
}

// diffService returns the requests that turn the kernel's service hs (nil when absent) into s.
func (r *Reconciler) diffService(s Service, hs *ipvs.Service) ([]op, error) {
	if hs == nil {
		ops := make([]op, 0, 1+len(s.Destinations))
		ops = append(ops, op{cmd: cmdNewService, svc: s})
		for i := range s.Destinations {
			ops = append(ops, op{cmd: cmdNewDest, svc: s, dest: &s.Destinations[i]})
		}
		return ops, nil
	}
	have, err := r.w.dests(s)
	if err != nil {
		return nil, err
	}
	return diffDests(s, s.sameAttrs(fromMoby(hs)), have), nil
}

// diffDests returns the requests that turn a service holding the destinations have (and the
// same attributes as s when sameAttrs) into s.
func diffDests(s Service, sameAttrs bool, have []Destination) []op {
	var ops []op
	if !sameAttrs {
		ops = append(ops, op{cmd: cmdSetService, svc: s})
	}
	hd := make(map[DestKey]Destination, len(have))
	for _, d := range have {
		hd[d.Key()] = d
	}
	for i, d := range s.Destinations {
		cur, ok := hd[d.Key()]
		switch {
		case !ok:
			ops = append(ops, op{cmd: cmdNewDest, svc: s, dest: &s.Destinations[i]})
		case !d.same(cur):
			ops = append(ops, op{cmd: cmdSetDest, svc: s, dest: &s.Destinations[i]})
		}
		delete(hd, d.Key())
	}
	for _, d := range hd {
		ops = append(ops, op{cmd: cmdDelDest, svc: s, dest: &d})
	}
	return ops
}

func count(done []op) Changes {
	var ch Changes
	for _, o := range done {
		switch o.cmd {
		case cmdNewService:
			ch.ServicesAdded++
		case cmdSetService:
			ch.ServicesUpdated++
		case cmdDelService:
			ch.ServicesRemoved++
		case cmdNewDest:
			ch.DestsAdded++
		case cmdSetDest:
			ch.DestsUpdated++
		case cmdDelDest:
			ch.DestsRemoved++
		}
	}
	return ch
}

// Shutdown removes every service this reconciler owns, as keepalived does when it stops, and
// leaves the rest of the table alone.
func (r *Reconciler) Shutdown() (Changes, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return Changes{}, errClosed
	}
	have, err := r.readServices()
	if err != nil {
		return Changes{}, err
	}
	var ops []op
	for k := range r.owned {
		if hs, ok := have[k]; ok {
			ops = append(ops, op{cmd: cmdDelService, svc: fromMoby(hs)})
		}
	}
	r.last = nil
	done, errs := r.w.run(ops)
	for _, o := range done {
		delete(r.owned, o.svc.Key)
		delete(r.applied, o.svc.Key)
	}
	for k := range r.owned {
		if _, ok := have[k]; !ok {
			delete(r.owned, k)
			delete(r.applied, k)
		}
	}
	if err := r.saveState(); err != nil {
		errs = append(errs, err)
	}
	return count(done), joinLimited(errs)
}

// Flush empties the kernel's IPVS table, every service ours or not (keepalived's lvs_flush at
// start); nothing is owned afterwards.
func (r *Reconciler) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return errClosed
	}
	if err := r.h.Flush(); err != nil {
		return fmt.Errorf("flush ipvs table: %w", err)
	}
	clear(r.applied)
	clear(r.owned)
	r.last = nil
	return r.saveState()
}

// Read returns the kernel's whole IPVS table (ours and others'), sorted, with destinations.
func (r *Reconciler) Read() ([]Service, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.h == nil {
		return nil, errClosed
	}
	have, err := r.readServices()
	if err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(have))
	for _, hs := range have {
		s := fromMoby(hs)
		ds, err := r.w.dests(s)
		if err != nil {
			return nil, err
		}
		s.Destinations = ds
		out = append(out, s.normalize())
	}
	slices.SortFunc(out, func(a, b Service) int { return a.Key.compare(b.Key) })
	return out, nil
}

func (r *Reconciler) readServices() (map[Key]*ipvs.Service, error) {
	r.dumps++
	list, err := r.h.GetServices()
	if err != nil {
		return nil, fmt.Errorf("read ipvs services: %w", err)
	}
	have := make(map[Key]*ipvs.Service, len(list))
	for _, hs := range list {
		have[fromMoby(hs).Key] = hs
	}
	return have, nil
}

// schedHint adds the likely cause when adding or updating a service fails with ENOENT: the
// kernel has no such scheduler.
func schedHint(o op, err error) error {
	if (o.cmd == cmdNewService || o.cmd == cmdSetService) && errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%w (does the kernel have scheduler %s? it needs module ip_vs_%s)", err, o.svc.Scheduler, o.svc.Scheduler)
	}
	return err
}

func toMoby(s Service) *ipvs.Service {
	ms := &ipvs.Service{
		AddressFamily: s.Family, Protocol: uint16(s.Protocol), Port: s.Port, FWMark: s.FWMark,
		SchedName: s.Scheduler, Flags: s.Flags, Timeout: s.Timeout, Netmask: wireNetmask(s.Family, s.Netmask), PEName: s.PEName,
	}
	if s.FWMark == 0 {
		ms.Address = net.IP(s.Address.AsSlice())
	} else if s.Family == FamilyIPv6 {
		ms.Address = net.IPv6zero
	} else {
		ms.Address = net.IPv4zero
	}
	return ms
}

func fromMoby(ms *ipvs.Service) Service {
	s := Service{
		Key:       Key{Family: ms.AddressFamily, Protocol: Protocol(ms.Protocol), Port: ms.Port, FWMark: ms.FWMark},
		Scheduler: ms.SchedName, Flags: ms.Flags &^ FlagHashed, Timeout: ms.Timeout, Netmask: wireNetmask(ms.AddressFamily, ms.Netmask), PEName: ms.PEName,
	}
	if a, ok := netip.AddrFromSlice(ms.Address); ok {
		s.Address = a.Unmap()
	}
	if s.FWMark != 0 {
		s.Protocol, s.Address, s.Port = 0, netip.Addr{}, 0
	}
	return s
}

// wireNetmask converts an IPv4 persistence mask between our value (255.255.255.0 is 0xffffff00)
// and the kernel's, which is in network byte order while moby/ipvs sends it in host order. An IPv6
// service's "mask" is a prefix length in host order and passes unchanged. The conversion is its
// own inverse.
func wireNetmask(family uint16, m uint32) uint32 {
	if family == FamilyIPv6 {
		return m
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], m)
	return binary.NativeEndian.Uint32(b[:])
}

func readState(path string) ([]Key, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lvs state: %w", err)
	}
	var keys []Key
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("lvs state %s: %w", path, err)
	}
	return keys, nil
}

func (r *Reconciler) saveState() error {
	if r.opts.StateFile == "" {
		return nil
	}
	keys := make([]Key, 0, len(r.owned))
	for k := range r.owned {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, Key.compare)
	b, err := json.Marshal(keys)
	if err != nil {
		return fmt.Errorf("lvs state: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(r.opts.StateFile), 0o755); err != nil {
		return fmt.Errorf("lvs state: %w", err)
	}
	tmp := r.opts.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("lvs state: %w", err)
	}
	if err := os.Rename(tmp, r.opts.StateFile); err != nil {
		return fmt.Errorf("lvs state: %w", err)
	}
	return nil
}
