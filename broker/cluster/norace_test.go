//go:build !race

package cluster

// raceEnabled says the race detector is on: scale tests run smaller.
const raceEnabled = false
