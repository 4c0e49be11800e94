package blob

import (
	"bytes"
	"testing"

	"github.com/elliptics/elliptics/core/id"
)

// FuzzDecodeHeader: any bytes give a header or an error, never a panic,
// and an accepted header re-encodes to the same bytes.
func FuzzDecodeHeader(f *testing.F) {
	h := header{id: id.Max, column: "meta", timestamp: 5, dataSize: 3, diskSize: 3}
	buf := make([]byte, headerSize+maxColumnLen)
	n := h.encode(buf)
	f.Add(buf[:n])
	f.Add(buf[:headerSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		hdr, err := decodeHeader(b)
		if err != nil {
			return
		}
		out := make([]byte, headerSize+maxColumnLen)
		m := hdr.encode(out)
		if !bytes.Equal(out[:m], b[:m]) {
			t.Fatalf("header does not re-encode to the same bytes")
		}
	})
}

// FuzzDecodeSnapshot: a damaged snapshot is rejected, never trusted, and
// never makes the decoder allocate from an unchecked count or panic.
func FuzzDecodeSnapshot(f *testing.F) {
	s := &snapshot{seq: 3, activeNumber: 1, columns: map[id.ID][]string{id.Max: {"a", "b"}},
		files: []snapFile{{slot: 0, number: 1, size: 100}}, slots: make([]slot, minSlots)}
	var buf bytes.Buffer
	if err := s.encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes()[:buf.Len()-8])
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The body decoder, behind the checksum, which random bytes would
		// never pass.
		s, err := decodeSnapshotBody(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := s.encode(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := decodeSnapshot(out.Bytes()); err != nil {
			t.Fatalf("re-encoded snapshot rejected: %v", err)
		}
	})
}
