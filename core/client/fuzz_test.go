package client

import (
	"reflect"
	"testing"
)

// FuzzParseRouteListRequest: a ROUTE_LIST payload parses or is refused; a
// parsed one re-encodes to a request that parses the same.
func FuzzParseRouteListRequest(f *testing.F) {
	f.Add(AppendRouteListRequest(nil, RouteListRequest{WithNodes: true, HasDigest: true, Digest: 7, Only: []string{"a:1", "b:2"}}))
	f.Add(AppendRouteListRequest(nil, RouteListRequest{}))
	f.Add([]byte{RouteListOnly, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRouteListRequest(b)
		if err != nil {
			return
		}
		r2, err := ParseRouteListRequest(AppendRouteListRequest(nil, r))
		if err != nil || !reflect.DeepEqual(r, r2) && !(len(r.Only) == 0 && len(r2.Only) == 0) {
			t.Fatalf("route list request %+v does not round-trip: %+v, %v", r, r2, err)
		}
	})
}

// FuzzDecodeScriptRecord: a stored script record (read back from the
// cluster, where anyone with write access could have put it) decodes or is
// refused.
func FuzzDecodeScriptRecord(f *testing.F) {
	f.Add([]byte(`{"source":"def main(): pass","version":1}`))
	f.Add([]byte(`{`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = DecodeScriptRecord("s", b) })
}
