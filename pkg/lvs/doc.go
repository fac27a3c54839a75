// Package lvs turns keepalived's virtual_server blocks into IPVS services and keeps the kernel in
// step with them.
//
// It owns three things:
//   - the desired IPVS state as plain values (Service, Destination), built from pkg/config's model
//     and the real servers' health by FromConfig, with keepalived's rules for inhibit_on_failure,
//     sorry_server, quorum and hysteresis, alpha and ha_suspend;
//   - the Reconciler, which reads what the kernel has (the service list through
//     github.com/moby/ipvs; destinations, with their tunnel settings moby/ipvs does not parse, and
//     all writes, batched many to a sendmsg, through batch.go's own generic netlink socket) and
//     changes only the difference: a weight is updated in place, never deleted and re-added; services that are
//     not ours (neither desired now nor applied by us before, as recorded in an optional state
//     file that survives a crash) are left alone; the kernel's hashed flag is ignored; all netlink
//     use goes through one mutex;
//   - ErrNoIPVS, the one error a daemon needs to tell "this kernel has no IPVS" from a failure.
//
// The package never logs; the daemon decides what to say.
package lvs
