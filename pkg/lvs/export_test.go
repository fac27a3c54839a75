package lvs

import (
	"net/netip"
	"slices"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func sortServices(s []Service) {
	slices.SortFunc(s, func(a, b Service) int { return a.Key.compare(b.Key) })
}

// For the external test package (the daemon benchmark, which cannot be in package lvs: pkg/daemon
// imports it).
var (
	BenchConfig = benchConfig
	OneWeight   = oneWeight
)

const BenchVS, BenchRS = benchVS, benchRS
