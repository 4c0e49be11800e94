package stats

import "testing"

// FuzzParseCategories: a category list from a request (MONITOR_STAT,
// the monitor's ?categories=) parses or is refused, never a panic.
func FuzzParseCategories(f *testing.F) {
	f.Add("all")
	f.Add("commands,backends")
	f.Add("0xffffffffffffffffff")
	f.Add("-1")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseCategories(s) })
}
