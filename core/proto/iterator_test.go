package proto

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

func TestRangePayloadsRoundTrip(t *testing.T) {
	rr := RangeRequest{Start: id.Transform([]byte("a")), End: id.Max, Flags: IONoData, Offset: 1, Size: 2, LimitStart: 3, LimitNum: 14}
	b := rr.Append(nil)
	require.Len(t, b, RangeRequestSize)
	got, err := DecodeRangeRequest(b)
	require.NoError(t, err)
	require.Equal(t, rr, got)
	_, err = DecodeRangeRequest(b[:RangeRequestSize-1])
	require.ErrorIs(t, err, status.ErrProtocol)
	_, err = DecodeRangeRequest(append(b, 0))
	require.ErrorIs(t, err, status.ErrProtocol, "trailing bytes")
	require.ErrorIs(t, (&RangeRequest{Start: id.Max}).Validate(), status.ErrInvalid, "start after end")
	require.NoError(t, (&RangeRequest{Start: id.Max, End: id.Max}).Validate(), "empty range")

	res := RangeResult{Skipped: 3, Count: 13}
	b = res.Append(nil)
	require.Len(t, b, RangeResultSize)
	r2, err := DecodeRangeResult(b)
	require.NoError(t, err)
	require.Equal(t, res, r2)

	a := IOAttr{Column: "c", Size: 3, TotalSize: 9, Timestamp: time.Unix(5, 6).UTC()}
	b = append(AppendRangeEntryHead(nil, id.Max, &a), "xyz"...)
	re, err := DecodeRangeEntry(b)
	require.NoError(t, err)
	require.Equal(t, id.Max, re.ID)
	require.Equal(t, "xyz", string(re.Data))
	require.Equal(t, a, re.Attr)
	_, err = DecodeRangeEntry(b[:len(b)-1])
	require.ErrorIs(t, err, status.ErrProtocol, "data shorter than the attr says")
}

func TestIteratorPayloadsRoundTrip(t *testing.T) {
	ir := IteratorRequest{ID: 7, Action: IterStart, Type: IterTypeServerSend, Flags: IterData | IterMove,
		TimeBegin: time.Unix(10, 1).UTC(), TimeEnd: time.Unix(20, 2).UTC(),
		Ranges: []IteratorRange{{Start: id.Zero, End: id.Max}}, Groups: []uint32{2, 3}}
	b := ir.Append(nil)
	require.Len(t, b, IteratorRequestSize+2*id.Size+8)
	got, err := DecodeIteratorRequest(b)
	require.NoError(t, err)
	require.Equal(t, ir, got)
	require.NoError(t, got.Validate())

	for _, tc := range []struct {
		name string
		req  IteratorRequest
		want error
	}{
		{"reversed range", IteratorRequest{Type: IterTypeNetwork, Ranges: []IteratorRange{{Start: id.Max}}}, status.ErrInvalid},
		{"reversed times", IteratorRequest{Type: IterTypeNetwork, Flags: IterTSRange, TimeBegin: time.Unix(9, 0), TimeEnd: time.Unix(8, 0)}, status.ErrInvalid},
		{"disk", IteratorRequest{Type: IterTypeDisk}, status.ErrUnsupported},
		{"unknown type", IteratorRequest{Type: 9}, status.ErrInvalid},
		{"send without groups", IteratorRequest{Type: IterTypeServerSend}, status.ErrInvalid},
		{"groups without send", IteratorRequest{Type: IterTypeNetwork, Groups: []uint32{1}}, status.ErrInvalid},
		{"move without send", IteratorRequest{Type: IterTypeNetwork, Flags: IterMove}, status.ErrInvalid},
		{"open-ended time", IteratorRequest{Type: IterTypeNetwork, Flags: IterTSRange, TimeBegin: time.Unix(9, 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.req.Validate()
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tc.want)
			}
		})
	}

	// Counts over the limits are refused before anything is allocated.
	big := IteratorRequest{}.appendCounts(MaxIteratorRanges+1, 0)
	_, err = DecodeIteratorRequest(big)
	require.ErrorIs(t, err, status.ErrTooLarge)
	_, err = DecodeIteratorRequest(IteratorRequest{}.appendCounts(2, 0))
	require.ErrorIs(t, err, status.ErrProtocol, "two ranges announced, none present")

	e := IteratorEntry{IterID: 3, Status: status.Mismatch, Iterated: 4, Total: 5, Group: 2, State: IterPaused,
		Key: id.Max, Attr: IOAttr{Column: "c", TotalSize: 2, Timestamp: time.Unix(1, 0).UTC()}, Data: []byte("hi")}
	b = append(e.AppendHead(nil), e.Data...)
	e2, err := DecodeIteratorEntry(b)
	require.NoError(t, err)
	e.Attr.Size = 2
	require.Equal(t, e, e2)
	_, err = DecodeIteratorEntry(b[:IteratorEntrySize-1])
	require.ErrorIs(t, err, status.ErrProtocol)
}

// appendCounts encodes a request header announcing nr ranges and ng groups
// with none of them present.
func (r IteratorRequest) appendCounts(nr, ng uint32) []byte {
	b := r.Append(nil)
	b[56], b[57], b[58], b[59] = byte(nr), byte(nr>>8), byte(nr>>16), byte(nr>>24)
	b[60], b[61], b[62], b[63] = byte(ng), byte(ng>>8), byte(ng>>16), byte(ng>>24)
	return b
}

func TestSendPayloadsRoundTrip(t *testing.T) {
	sr := SendRequest{Flags: IterOverwrite, Groups: []uint32{4}, Keys: []SendKey{{ID: id.Max, Column: "c"}, {ID: id.Zero}}}
	got, err := DecodeSendRequest(sr.Append(nil))
	require.NoError(t, err)
	require.Equal(t, sr, got)
	_, err = DecodeSendRequest(sr.Append(nil)[:20])
	require.ErrorIs(t, err, status.ErrProtocol)

	rs := []SendResult{{ID: id.Max, Column: "c", Group: 4, Status: status.Mismatch}, {Group: 5}}
	got2, err := DecodeSendResults(AppendSendResults(nil, rs))
	require.NoError(t, err)
	require.Equal(t, rs, got2)
}

// FuzzRangeIteratorPayloads runs the range, iterator and send decoders on
// arbitrary bytes: none may panic, and what decodes re-encodes to the same.
func FuzzRangeIteratorPayloads(f *testing.F) {
	f.Add((&RangeRequest{End: id.Max, LimitNum: 3}).Append(nil))
	f.Add((&RangeResult{Count: 1}).Append(nil))
	f.Add(append(AppendRangeEntryHead(nil, id.Max, &IOAttr{Column: "x", Size: 1}), 'd'))
	f.Add((&IteratorRequest{Action: IterStart, Type: IterTypeNetwork, Ranges: []IteratorRange{{End: id.Max}}, Groups: []uint32{1}}).Append(nil))
	f.Add((&IteratorEntry{IterID: 1, Attr: IOAttr{Column: "c"}}).AppendHead(nil))
	f.Add((&SendRequest{Groups: []uint32{1}, Keys: []SendKey{{Column: "c"}}}).Append(nil))
	f.Add(AppendSendResults(nil, []SendResult{{Column: "c", Status: -2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeRangeRequest(b); err == nil {
			if r2, err := DecodeRangeRequest(r.Append(nil)); err != nil || r2 != r {
				t.Fatalf("range request does not round-trip: %v", err)
			}
			_ = r.Validate()
		}
		if r, err := DecodeRangeResult(b); err == nil {
			if r2, err := DecodeRangeResult(r.Append(nil)); err != nil || r2 != r {
				t.Fatalf("range result does not round-trip: %v", err)
			}
		}
		if e, err := DecodeRangeEntry(b); err == nil {
			if _, err := DecodeRangeEntry(append(AppendRangeEntryHead(nil, e.ID, &e.Attr), e.Data...)); err != nil {
				t.Fatalf("range entry does not round-trip: %v", err)
			}
		}
		if r, err := DecodeIteratorRequest(b); err == nil {
			r2, err := DecodeIteratorRequest(r.Append(nil))
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("iterator request does not round-trip: %v", err)
			}
			_ = r.Validate()
		}
		if e, err := DecodeIteratorEntry(b); err == nil {
			e2, err := DecodeIteratorEntry(append(e.AppendHead(nil), e.Data...))
			if err != nil || e2.IterID != e.IterID || e2.Key != e.Key || string(e2.Data) != string(e.Data) {
				t.Fatalf("iterator entry does not round-trip: %v", err)
			}
		}
		if r, err := DecodeSendRequest(b); err == nil {
			r2, err := DecodeSendRequest(r.Append(nil))
			if err != nil || !reflect.DeepEqual(r, r2) {
				t.Fatalf("send request does not round-trip: %v", err)
			}
		}
		if rs, err := DecodeSendResults(b); err == nil {
			rs2, err := DecodeSendResults(AppendSendResults(nil, rs))
			if err != nil || !reflect.DeepEqual(rs, rs2) {
				t.Fatalf("send results do not round-trip: %v", errors.Join(err))
			}
		}
	})
}

func TestIteratorInfosRoundTrip(t *testing.T) {
	infos := []IteratorInfo{
		{ID: 3, Backend: -1, Group: 2, State: IterPaused, Type: IterTypeServerSend, Flags: IterMove,
			Iterated: 5, Total: 9, Started: time.Unix(100, 7).UTC()},
		{ID: 4, Backend: 1, Group: 1, State: IterRunning, Type: IterTypeNetwork, Started: time.Unix(101, 0).UTC()},
	}
	b := AppendIteratorInfos(nil, infos)
	require.Len(t, b, 8+2*IteratorInfoSize)
	got, err := DecodeIteratorInfos(b)
	require.NoError(t, err)
	require.Equal(t, infos, got)

	empty, err := DecodeIteratorInfos(AppendIteratorInfos(nil, nil))
	require.NoError(t, err)
	require.Empty(t, empty)

	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"truncated", b[:len(b)-1], status.ErrProtocol},
		{"trailing", append(b[:len(b):len(b)], 0), status.ErrProtocol},
		{"no count", b[:3], status.ErrProtocol},
		{"count over the limit", []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}, status.ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeIteratorInfos(tc.b)
			require.ErrorIs(t, err, tc.want)
		})
	}
}
