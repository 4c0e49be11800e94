package proto

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/status"
)

func TestNotifyRequestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    NotifyRequest
		err  error
	}{
		{"watch", NotifyRequest{Action: NotifyWatch, Queue: 8}, nil},
		{"watch default queue", NotifyRequest{Action: NotifyWatch}, nil},
		{"drop", NotifyRequest{Action: NotifyDrop, WatchID: 7}, nil},
		{"drop without id", NotifyRequest{Action: NotifyDrop}, status.ErrInvalid},
		{"queue too large", NotifyRequest{Action: NotifyWatch, Queue: MaxNotifyQueue + 1}, status.ErrTooLarge},
		{"unknown action", NotifyRequest{Action: 9}, status.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.r.Append(nil)
			if len(b) != NotifyRequestSize {
				t.Fatalf("encoded %d bytes, want %d", len(b), NotifyRequestSize)
			}
			got, err := DecodeNotifyRequest(b)
			if !errors.Is(err, tc.err) && !(err == nil && tc.err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && got != tc.r {
				t.Fatalf("got %+v, want %+v", got, tc.r)
			}
		})
	}
	if _, err := DecodeNotifyRequest(make([]byte, NotifyRequestSize-1)); !errors.Is(err, status.ErrProtocol) {
		t.Fatalf("truncated: err = %v, want protocol", err)
	}
}

func TestNotifyEventRoundTrip(t *testing.T) {
	ts := time.Unix(1700000000, 123).UTC()
	for _, e := range []NotifyEvent{
		{WatchID: 1, Kind: NotifyWrite, Group: 2, Size: 10, Timestamp: ts, UserFlags: 5, RecordFlags: RecordAppend, Column: "col"},
		{WatchID: 1, Kind: NotifyRemove, Group: 2, Timestamp: ts},
		{WatchID: 3, Kind: NotifyMissed, Missed: 99},
		{WatchID: 3, Kind: NotifyKeepAlive},
		{WatchID: 3, Kind: NotifyStarted, Group: 1},
	} {
		b := e.Append(nil)
		if len(b) != NotifyEventSize+len(e.Column) {
			t.Fatalf("%s: encoded %d bytes", e.Kind, len(b))
		}
		got, err := DecodeNotifyEvent(b)
		if err != nil || got != e {
			t.Fatalf("%s: got %+v, %v; want %+v", e.Kind, got, err, e)
		}
	}
	bad := (&NotifyEvent{Kind: 42}).Append(nil)
	if _, err := DecodeNotifyEvent(bad); !errors.Is(err, status.ErrProtocol) {
		t.Fatalf("unknown kind: err = %v", err)
	}
	short := (&NotifyEvent{Kind: NotifyWrite, Column: "abc"}).Append(nil)
	if _, err := DecodeNotifyEvent(short[:len(short)-1]); !errors.Is(err, status.ErrProtocol) {
		t.Fatalf("truncated: err = %v", err)
	}
}

// FuzzNotify runs the NOTIFY decoders on arbitrary bytes: no panic, and
// whatever decodes re-encodes to the same bytes.
func FuzzNotify(f *testing.F) {
	f.Add((&NotifyRequest{Action: NotifyWatch, Queue: 16}).Append(nil))
	f.Add((&NotifyRequest{Action: NotifyDrop, WatchID: 3}).Append(nil))
	f.Add((&NotifyEvent{WatchID: 1, Kind: NotifyWrite, Group: 2, Size: 3, Timestamp: time.Unix(4, 5), Column: "c"}).Append(nil))
	f.Add((&NotifyEvent{Kind: NotifyMissed, Missed: 7}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := DecodeNotifyRequest(b); err == nil {
			if got := r.Append(nil); !bytes.Equal(got, b) {
				t.Fatalf("notify request %+v re-encodes as %x, decoded from %x", r, got, b)
			}
		}
		if e, err := DecodeNotifyEvent(b); err == nil {
			e2, err := DecodeNotifyEvent(e.Append(nil))
			if err != nil || e2 != e {
				t.Fatalf("notify event %+v does not round-trip: %+v, %v", e, e2, err)
			}
		}
	})
}
