package proto

import (
	"errors"
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/status"
)

func TestRelayTarget(t *testing.T) {
	good := append(AppendRelay(nil, "10.0.0.3:1025"), 1, 2, 3)
	if addr, rest, err := DecodeRelay(good); err != nil || addr != "10.0.0.3:1025" || string(rest) != "\x01\x02\x03" {
		t.Fatalf("round trip: %q %v %v", addr, rest, err)
	}
	long := strings.Repeat("a", MaxAddressLen+1)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty payload", nil, status.ErrProtocol},
		{"short length", []byte{5}, status.ErrProtocol},
		{"truncated address", []byte{5, 0, 'a', 'b'}, status.ErrProtocol},
		{"empty address", []byte{0, 0, 1}, status.ErrInvalid},
		{"address over the limit", append([]byte{byte(len(long)), byte(len(long) >> 8)}, long...), status.ErrTooLarge},
	} {
		_, _, err := DecodeRelay(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Encoding truncates an address over the limit, as every encoder does.
	addr, _, err := DecodeRelay(AppendRelay(nil, long))
	if err != nil || len(addr) != MaxAddressLen {
		t.Fatalf("long address: %d bytes, %v", len(addr), err)
	}
}
