package httpapi

import "testing"

func TestBufPool(t *testing.T) {
	for _, tc := range []struct {
		n, class, capacity int
	}{
		{1, -1, 1},
		{32 << 10, -1, 32 << 10},
		{32<<10 + 1, 0, 64 << 10},
		{64 << 10, 0, 64 << 10},
		{64<<10 + 1, 1, 128 << 10},
		{1 << 20, 4, 1 << 20},
		{1<<20 + 1, 5, 2 << 20},
		{8 << 20, 7, 8 << 20},
		{8<<20 + 1, -1, 8<<20 + 1},
	} {
		if c := poolClass(tc.n); c != tc.class {
			t.Errorf("poolClass(%d) = %d, want %d", tc.n, c, tc.class)
		}
		b := getBuf(tc.n)
		if len(*b) < tc.n || cap(*b) != tc.capacity {
			t.Errorf("getBuf(%d): len %d cap %d, want cap %d", tc.n, len(*b), cap(*b), tc.capacity)
		}
		putBuf(b)
	}
	// A buffer not of a class's size is not pooled: a later get of that
	// class must not get a short one.
	odd := make([]byte, 100<<10)
	putBuf(&odd)
	if b := getBuf(128 << 10); cap(*b) != 128<<10 {
		t.Errorf("getBuf(128 KiB) after putting a 100 KiB buffer: cap %d", cap(*b))
	}
	putBuf(nil)
}
