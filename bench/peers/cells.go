package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxClients bounds -clients: every client is a goroutine with its own
// connection on most systems, and the peers' default connection limits
// (Redis 10,000, etcd's HTTP server) stay far above it.
const maxClients = 1024

// errBadList is returned for a malformed -clients or -keys list.
var errBadList = errors.New("bad list")

// cell is one point of the load grid a workload runs at: how many
// closed-loop clients, and how they pick their keys.
type cell struct {
	clients int
	keys    string // key distribution: "uniform" or "zipf"
}

// parseClients parses -clients: comma-separated client counts, each in
// [1, maxClients], none twice.
func parseClients(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxClients {
			return nil, fmt.Errorf("-clients %q: %q is not a client count in [1, %d]: %w", s, f, maxClients, errBadList)
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("-clients %q: %d twice: %w", s, n, errBadList)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseKeys parses -keys: comma-separated key distributions, each one
// NewPicker knows, none twice.
func parseKeys(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		d := strings.TrimSpace(f)
		if _, err := NewPicker(d, 1, 0); err != nil {
			return nil, fmt.Errorf("-keys %q: %w: %w", s, errBadList, err)
		}
		if slices.Contains(out, d) {
			return nil, fmt.Errorf("-keys %q: %s twice: %w", s, d, errBadList)
		}
		out = append(out, d)
	}
	return out, nil
}

// cellsOf returns the cells a workload of values of size bytes runs at:
// every client count with every distribution for 1 KiB values, and only
// the first of each for 1 MiB ones. 128 clients of 1 MiB values keep
// 128 MiB in flight, which measures the machine's memory more than the
// systems, and 100 hot 1 MiB keys are already in every page cache.
func cellsOf(clients []int, keys []string, size int) []cell {
	if size >= big {
		return []cell{{clients[0], keys[0]}}
	}
	var out []cell
	for _, n := range clients {
		for _, k := range keys {
			out = append(out, cell{n, k})
		}
	}
	return out
}

// rowName names a workload's row in the table, the plot and the rounds'
// merge: "put 1 KiB, 3 replicas, 128 clients, zipf keys".
func rowName(workload string, replicas int, c cell) string {
	if replicas > 1 {
		workload += fmt.Sprintf(", %d replicas", replicas)
	}
	return fmt.Sprintf("%s, %d clients, %s keys", workload, c.clients, c.keys)
}
