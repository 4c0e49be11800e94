package vfs

import (
	"bytes"
	"testing"
)

func TestAdvance(t *testing.T) {
	orig := [][]byte{[]byte("abc"), {}, []byte("de"), []byte("fghi")}
	all := []byte("abcdefghi")
	for n := 0; n <= len(all); n++ {
		bufs := append([][]byte(nil), orig...)
		rest := advance(bufs, n)
		if got := bytes.Join(rest, nil); !bytes.Equal(got, all[n:]) {
			t.Fatalf("advance(%d) = %q, want %q", n, got, all[n:])
		}
		for i := range orig {
			if !bytes.Equal(bufs[i], orig[i]) {
				t.Fatalf("advance(%d) modified the caller's slice", n)
			}
		}
	}
}
