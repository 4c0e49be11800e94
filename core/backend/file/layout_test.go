package file

import (
	"bytes"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
)

func TestObjectDir(t *testing.T) {
	var oid id.ID
	oid[0], oid[1], oid[63] = 0xab, 0x0c, 0xff
	got := objectDir("/data", oid)
	require.Equal(t, filepath.Join("/data", "objects", "ab", "0c", oid.String()), got)
	require.Len(t, filepath.Base(got), 128)

	back, ok := parseObjectDirName(filepath.Base(got))
	require.True(t, ok)
	require.Equal(t, oid, back)

	for _, bad := range []string{"", "ab", strings.Repeat("A", 128), strings.Repeat("g", 128), strings.Repeat("a", 127), strings.Repeat("a", 130)} {
		_, ok := parseObjectDirName(bad)
		require.False(t, ok, "%q", bad)
	}
}

func TestFanoutNames(t *testing.T) {
	for i := 0; i < 256; i++ {
		var oid id.ID
		oid[0], oid[1] = byte(i), byte(255-i)
		a, b := fanout(oid)
		ga, ok := parseFanoutName(a)
		require.True(t, ok)
		require.Equal(t, byte(i), ga)
		gb, ok := parseFanoutName(b)
		require.True(t, ok)
		require.Equal(t, byte(255-i), gb)
	}
	for _, bad := range []string{"", "a", "abc", "AB", "0G", ".."} {
		_, ok := parseFanoutName(bad)
		require.False(t, ok, "%q", bad)
	}
}

// Hex file names sort like the bytes they encode, so ReadDir order is ID
// order.
func TestHexNamesSortLikeIDs(t *testing.T) {
	var ids []id.ID
	for _, p := range [][2]byte{{0, 0}, {0, 0xff}, {0x09, 0}, {0x0a, 0}, {0x10, 1}, {0x9f, 0}, {0xa0, 0}, {0xff, 0xff}} {
		var o id.ID
		o[0], o[1] = p[0], p[1]
		o[63] = p[1]
		ids = append(ids, o)
	}
	names := make([]string, len(ids))
	for i, o := range ids {
		names[i] = objectDir("", o)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	require.Equal(t, names, sorted)
}

func TestColumnFileName(t *testing.T) {
	cases := []string{
		"", "meta", "/", "a/b", "..", ".", "\x00", "a\x00b", "ünïcødé", "\xff\xfe",
		"_", "c", "h", ".tmp.x", strings.Repeat("a", maxInlineColumn),
		strings.Repeat("b", maxInlineColumn+1), strings.Repeat("\xff", MaxColumnLen),
	}
	seen := map[string]string{}
	for _, c := range cases {
		name := columnFileName(c)
		require.NotEmpty(t, name)
		require.LessOrEqual(t, len(name), 1+2*maxInlineColumn, "%q", c)
		require.NotContains(t, name, "/", "%q", c)
		require.NotContains(t, name, "\x00", "%q", c)
		require.NotEqual(t, ".", name)
		require.NotEqual(t, "..", name)
		require.False(t, isTemp(name), "%q", c)
		// Room for the temporary-file affixes within a 255-byte name.
		require.LessOrEqual(t, len(tempPrefix+name+".18446744073709551615"), 255)
		if prev, dup := seen[name]; dup {
			t.Fatalf("columns %q and %q share file name %q", prev, c, name)
		}
		seen[name] = c

		got, known, ok := parseColumnFileName(name)
		require.True(t, ok, "%q", c)
		if len(c) <= maxInlineColumn {
			require.True(t, known, "%q", c)
			require.Equal(t, c, got)
		} else {
			require.False(t, known, "%q: long names are hashed", c)
		}
	}
	for _, bad := range []string{"", "x", "c", "cAB", "c0", "czz", "h00", ".tmp._.1", "__", "c" + strings.Repeat("00", maxInlineColumn+1)} {
		_, _, ok := parseColumnFileName(bad)
		require.False(t, ok, "%q", bad)
	}
	// Inline names sort like the column names (the default column aside).
	var cols []string
	for _, c := range cases {
		if c != "" && len(c) <= maxInlineColumn {
			cols = append(cols, c)
		}
	}
	sort.Slice(cols, func(i, j int) bool { return bytes.Compare([]byte(cols[i]), []byte(cols[j])) < 0 })
	for i := 1; i < len(cols); i++ {
		require.Less(t, columnFileName(cols[i-1]), columnFileName(cols[i]))
	}
}
