package main

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// zipfS is the skew of the "zipf" distribution: P(key k) ∝ (1 + k)^-zipfS,
// the usual s ≈ 1.1 of key-value benchmarks.
const zipfS = 1.1

// Picker returns the index of the next key, in [0, n).
type Picker func() int

// NewPicker returns a key picker over n keys: "uniform" or "zipf" (skew
// s = 1.1: a few hot keys take most of the requests). seed makes every
// worker's sequence its own and repeatable.
func NewPicker(dist string, n int, seed uint64) (Picker, error) {
	if n <= 0 {
		return nil, fmt.Errorf("picker: %d keys", n)
	}
	rng := rand.New(rand.NewPCG(seed, 0x7065657273))
	switch dist {
	case "uniform":
		return func() int { return rng.IntN(n) }, nil
	case "zipf":
		z := rand.NewZipf(rng, zipfS, 1, uint64(n-1))
		return func() int { return int(z.Uint64()) }, nil
	}
	return nil, fmt.Errorf("picker: unknown distribution %q (uniform, zipf)", dist)
}

// zipfTopShare is the share of the picks that go to the hottest key
// (key 0) of a "zipf" picker over n keys: 1 / Σ (1 + k)^-zipfS.
func zipfTopShare(n int) float64 {
	sum := 0.0
	for k := range n {
		sum += math.Pow(float64(1+k), -zipfS)
	}
	return 1 / sum
}

// keyName is the name of key i of a key space (prefix "k" for 1 KiB values,
// "m" for 1 MiB ones).
func keyName(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }
