package proto

import (
	"reflect"
	"testing"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

func TestBulkRoundTrip(t *testing.T) {
	keys := []BulkKey{{ID: id.Max, Payload: (&IOAttr{Column: "c"}).Append(nil)}, {ID: id.Zero, Payload: []byte{}}}
	b := AppendBulkRequest(nil, keys)
	if len(b) != BulkRequestSize(keys) {
		t.Fatalf("size %d, BulkRequestSize says %d", len(b), BulkRequestSize(keys))
	}
	got, err := DecodeBulkRequest(b)
	if err != nil || !reflect.DeepEqual(got, keys) {
		t.Fatalf("request does not round-trip: %v %v", got, err)
	}
	rs := []BulkResult{{Index: 3, Status: status.NotFound, Payload: []byte("no")}, {Index: 0, Payload: []byte{}}}
	gr, err := DecodeBulkReply(AppendBulkReply(nil, rs))
	if err != nil || !reflect.DeepEqual(gr, rs) {
		t.Fatalf("reply does not round-trip: %v %v", gr, err)
	}
	for _, bad := range [][]byte{{1, 0, 0, 0}, {0xff, 0xff, 0xff, 0xff}, append(AppendBulkRequest(nil, keys), 0)} {
		if _, err := DecodeBulkRequest(bad); err == nil {
			t.Fatalf("bad request %x decoded", bad)
		}
	}
	if _, err := DecodeBulkReply(AppendBulkReply(nil, []BulkResult{{Status: 5}})); err == nil {
		t.Fatal("positive status decoded")
	}
}

// FuzzBulk runs the bulk decoders on arbitrary bytes: none may panic, and
// what decodes re-encodes to the same bytes.
func FuzzBulk(f *testing.F) {
	f.Add(AppendBulkRequest(nil, []BulkKey{{ID: id.Max, Payload: (&IOAttr{Column: "c", Size: 1}).Append(nil)}}))
	f.Add(AppendBulkReply(nil, []BulkResult{{Index: 1, Status: status.NotFound, Payload: []byte("x")}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if keys, err := DecodeBulkRequest(b); err == nil {
			if e := AppendBulkRequest(nil, keys); string(e) != string(b) || len(e) != BulkRequestSize(keys) {
				t.Fatal("bulk request does not round-trip")
			}
		}
		if rs, err := DecodeBulkReply(b); err == nil {
			if e := AppendBulkReply(nil, rs); string(e) != string(b) {
				t.Fatal("bulk reply does not round-trip")
			}
		}
	})
}
