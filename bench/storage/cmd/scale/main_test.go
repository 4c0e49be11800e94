package main

import (
	"strings"
	"testing"
)

// TestRun runs the whole program small, without the dd reference.
func TestRun(t *testing.T) {
	rep, err := run(config{n: 5000, dir: t.TempDir(), mib: 4, writers: 3, valueSize: 16, skipDD: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"B/object", "open from index.snap, cold cache", "full log scan", "blob 1 MiB writes"} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	t.Log("\n" + rep)
}
