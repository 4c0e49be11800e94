//go:build race

package clustertest

// raceEnabled: the race detector slows a full mesh of 100 nodes (10,000
// connections) well past the time make test allows, so TestCluster runs
// 30 nodes under it; `make scale` runs the full sizes without it.
const raceEnabled = true
