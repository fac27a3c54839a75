package check

import "fmt"

// QuorumStep is keepalived's virtual-server quorum rule: with quorum up, it is lost when the
// summed weight of live real servers drops below quorum-hysteresis or to 0; with quorum down,
// it is gained when the sum reaches quorum+hysteresis. It returns the new state and, on a
// change, keepalived's description of it ("Gained quorum 1+0=1 <= 2", "Lost quorum 1-0=1 > 0").
func QuorumStep(up bool, sum, quorum, hysteresis int) (bool, string) {
	upAt, downAt := quorum+hysteresis, quorum-hysteresis
	switch {
	case !up && sum >= upAt:
		return true, fmt.Sprintf("Gained quorum %d+%d=%d <= %d", quorum, hysteresis, upAt, sum)
	case up && (sum == 0 || sum < downAt):
		return false, fmt.Sprintf("Lost quorum %d-%d=%d > %d", quorum, hysteresis, downAt, sum)
	}
	return up, ""
}

// liveWeight sums the weight of the live real servers of a virtual server.
func liveWeight(rss []*rsRun) int {
	sum := 0
	for _, r := range rss {
		r.mu.Lock()
		if r.state.Alive {
			sum += r.state.Weight
		}
		r.mu.Unlock()
	}
	return sum
}
