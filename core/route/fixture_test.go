package route

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/stretchr/testify/require"
)

// A ring fixture (testdata/*.ring) describes a table and what it must
// answer; the syntax is in testdata/basic.ring.
type fixture struct {
	backends []Backend
	owners   []ownerCase
	ranges   map[string][]Range // nil: no range lines, do not check
	shares   []shareCase
}

type ownerCase struct {
	line  int
	group uint32
	key   id.ID
	want  string // "addr/id" or "none"
}

type shareCase struct {
	line    int
	addr    string
	backend int32
	group   uint32
	want    float64
}

// parseFixtureID reads zero, max or hex, with an optional -1/+1 suffix.
func parseFixtureID(s string) (id.ID, error) {
	delta := 0
	if base, ok := strings.CutSuffix(s, "-1"); ok {
		s, delta = base, -1
	} else if base, ok := strings.CutSuffix(s, "+1"); ok {
		s, delta = base, +1
	}
	var x id.ID
	switch s {
	case "zero":
		x = id.Zero
	case "max":
		x = id.Max
	default:
		var err error
		if x, err = id.Parse(s); err != nil {
			return x, err
		}
	}
	switch delta {
	case -1:
		x = x.Prev()
	case +1:
		x = x.Next()
	}
	return x, nil
}

func loadFixture(t *testing.T, path string) fixture {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var fx fixture
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		fail := func(format string, args ...any) {
			t.Fatalf("%s:%d: %s", path, ln, fmt.Sprintf(format, args...))
		}
		num := func(s string, bits int) uint64 {
			v, err := strconv.ParseUint(s, 10, bits)
			if err != nil {
				fail("%v", err)
			}
			return v
		}
		pid := func(s string) id.ID {
			x, err := parseFixtureID(s)
			if err != nil {
				fail("%v", err)
			}
			return x
		}
		switch f[0] {
		case "backend":
			if len(f) < 5 {
				fail("backend needs addr, group, id, points")
			}
			b := Backend{Addr: f[1], Group: uint32(num(f[2], 32)), ID: int32(num(f[3], 31))}
			rest := f[4:]
			if rest[0] == "ro" {
				b.ReadOnly, rest = true, rest[1:]
			}
			for _, p := range rest {
				b.Points = append(b.Points, pid(p))
			}
			fx.backends = append(fx.backends, b)
		case "owner":
			if len(f) != 4 {
				fail("owner needs group, key, owner")
			}
			fx.owners = append(fx.owners, ownerCase{ln, uint32(num(f[1], 32)), pid(f[2]), f[3]})
		case "range":
			if len(f) != 6 {
				fail("range needs addr, group, backend, start, end")
			}
			if fx.ranges == nil {
				fx.ranges = map[string][]Range{}
			}
			fx.ranges[f[1]] = append(fx.ranges[f[1]], Range{
				Group: uint32(num(f[2], 32)), Backend: int32(num(f[3], 31)), Start: pid(f[4]), End: pid(f[5])})
		case "share":
			if len(f) != 5 {
				fail("share needs addr, backend, group, fraction")
			}
			v, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				fail("%v", err)
			}
			fx.shares = append(fx.shares, shareCase{ln, f[1], int32(num(f[2], 31)), uint32(num(f[3], 32)), v})
		default:
			fail("unknown directive %q", f[0])
		}
	}
	require.NoError(t, sc.Err())
	return fx
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/*.ring")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			fx := loadFixture(t, path)
			tab, err := New(fx.backends)
			require.NoError(t, err)
			for _, c := range fx.owners {
				got := "none"
				if b, ok := tab.Owner(c.key, c.group); ok {
					got = b.Name()
					require.Equal(t, c.group, b.Group, "line %d", c.line)
				}
				require.Equal(t, c.want, got, "%s:%d: owner of %s in group %d", path, c.line, c.key.Short(), c.group)
				require.Equal(t, c.want, bruteOwner(fx.backends, c.key, c.group), "%s:%d: reference model", path, c.line)
			}
			if fx.ranges != nil {
				for _, addr := range tab.Addresses() {
					require.Equal(t, fx.ranges[addr], tab.Ranges(addr), "%s: ranges of %s", path, addr)
				}
			}
			for _, c := range fx.shares {
				require.Equal(t, c.want, tab.Share(c.addr, c.backend, c.group), "%s:%d", path, c.line)
			}
			checkCoverage(t, tab)
		})
	}
}

// bruteOwner is the ownership rule written out plainly, as a reference: the
// largest point <= key, else the largest point.
func bruteOwner(bs []Backend, key id.ID, group uint32) string {
	var best, largest *id.ID
	var bestName, largestName string
	for _, b := range bs {
		if b.Group != group {
			continue
		}
		for i := range b.Points {
			p := &b.Points[i]
			if largest == nil || p.Compare(*largest) > 0 {
				largest, largestName = p, b.Name()
			}
			if p.Compare(key) <= 0 && (best == nil || p.Compare(*best) > 0) {
				best, bestName = p, b.Name()
			}
		}
	}
	switch {
	case best != nil:
		return bestName
	case largest != nil:
		return largestName
	}
	return "none"
}
