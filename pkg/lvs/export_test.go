package lvs

import "slices"

func sortServices(s []Service) {
	slices.SortFunc(s, func(a, b Service) int { return a.Key.compare(b.Key) })
}
