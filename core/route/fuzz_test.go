package route

import (
	"math/rand/v2"
	"testing"
)

// FuzzDecodeTable feeds arbitrary bytes to DecodeTable: any input gives a
// table or an error, never a panic, and an accepted table survives
// AppendBinary and DecodeTable unchanged (contents and version), with a
// canonical encoding.
func FuzzDecodeTable(f *testing.F) {
	f.Add(sampleTable(f).AppendBinary(nil))
	empty, _ := New(nil)
	f.Add(empty.AppendBinary(nil))
	rng := rand.New(rand.NewPCG(1, 2))
	small, _ := New(randomBackends(rng, 3, 2, 2, true))
	f.Add(small.AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		tab, err := DecodeTable(b, Limits{MaxBackends: 64, MaxPoints: 64})
		if err != nil {
			return
		}
		enc := tab.AppendBinary(nil)
		again, err := DecodeTable(enc, Limits{})
		if err != nil {
			t.Fatalf("re-decode of an accepted table: %v", err)
		}
		if !again.Equal(tab) || again.Version() != tab.Version() {
			t.Fatalf("round trip changed the table")
		}
		if string(again.AppendBinary(nil)) != string(enc) {
			t.Fatalf("encoding is not canonical")
		}
		if tab.Len() > 0 {
			checkCoverage(t, tab)
		}
	})
}

// FuzzDecodeBackends is FuzzDecodeTable for backend lists.
func FuzzDecodeBackends(f *testing.F) {
	enc, _ := EncodeBackends(nil, sampleTable(f).Backends())
	f.Add(enc)
	enc, _ = EncodeBackends(nil, nil)
	f.Add(enc)
	f.Fuzz(func(t *testing.T, b []byte) {
		bs, err := DecodeBackends(b, Limits{MaxBackends: 64, MaxPoints: 64})
		if err != nil {
			return
		}
		enc, err := EncodeBackends(nil, bs)
		if err != nil {
			t.Fatalf("encode of an accepted list: %v", err)
		}
		again, err := DecodeBackends(enc, Limits{})
		if err != nil {
			t.Fatalf("re-decode of an accepted list: %v", err)
		}
		if len(again) != len(bs) {
			t.Fatalf("round trip: %d backends, want %d", len(again), len(bs))
		}
		for i := range bs {
			if !again[i].equal(bs[i]) {
				t.Fatalf("round trip changed backend %d: %+v, want %+v", i, again[i], bs[i])
			}
		}
	})
}
