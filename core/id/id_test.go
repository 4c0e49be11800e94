package id

import (
	"crypto/sha512"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFromKey(t *testing.T) {
	a, err := FromKey("", "key")
	require.NoError(t, err)
	require.Equal(t, ID(sha512.Sum512([]byte("key"))), a)

	b, err := FromKey("ns", "key")
	require.NoError(t, err)
	require.Equal(t, ID(sha512.Sum512([]byte("ns\x00key"))), b)
	require.NotEqual(t, a, b, "namespaces must separate identical keys")

	// "n"+"s\x00key" must not collide with "ns"+"key" thanks to the separator.
	c, err := FromKey("n", "s\x00key")
	require.NoError(t, err)
	require.NotEqual(t, b, c)

	_, err = FromKey("ns", "")
	require.ErrorIs(t, err, ErrEmptyKey)
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    byte // first byte
		wantErr bool
	}{
		{in: "ab", want: 0xab},
		{in: "a", want: 0xa0},
		{in: "  0102  ", want: 0x01},
		{in: "", wantErr: true},
		{in: "zz", wantErr: true},
		{in: string(make([]byte, 129)), wantErr: true},
	} {
		got, err := Parse(tc.in)
		if tc.wantErr {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got[0], tc.in)
	}
	full := Max.String()
	got, err := Parse(full)
	require.NoError(t, err)
	require.Equal(t, Max, got)
}

func TestCompare(t *testing.T) {
	var a, b ID
	a[0], b[0] = 1, 2
	require.True(t, a.Less(b))
	require.Equal(t, 1, b.Compare(a))
	require.Equal(t, 0, a.Compare(a))
	require.True(t, Zero.IsZero())
	require.True(t, Zero.Less(Max))
}

func TestCustomModel(t *testing.T) {
	m := ModelFunc(func(ns, key []byte) (ID, error) {
		var out ID
		copy(out[:], key)
		return out, nil
	})
	got, err := m.ID(nil, []byte{7})
	require.NoError(t, err)
	require.Equal(t, byte(7), got[0])
}
