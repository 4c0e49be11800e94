package proto

import (
	"encoding/binary"

	"github.com/elliptics/elliptics/core/status"
)

// MonitorStatSize is the size of a MONITOR_STAT request payload.
const MonitorStatSize = 8

// MonitorStatRequest is the payload of MONITOR_STAT: the categories of
// statistics wanted, a bitmask as in the original (stats.Category*; all
// bits set is every category). The reply is JSON (docs/monitoring.md).
type MonitorStatRequest struct {
	Categories uint64
}

// Append encodes the request: the bitmask, u64 little-endian.
func (r MonitorStatRequest) Append(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(b, r.Categories)
}

// DecodeMonitorStatRequest parses a MONITOR_STAT payload. An empty payload
// asks for every category; bytes after the bitmask are ignored (room for
// later fields).
func DecodeMonitorStatRequest(b []byte) (MonitorStatRequest, error) {
	if len(b) == 0 {
		return MonitorStatRequest{Categories: ^uint64(0)}, nil
	}
	if len(b) < MonitorStatSize {
		return MonitorStatRequest{}, status.Errorf(status.Protocol, "monitor stat request: %d bytes, want %d", len(b), MonitorStatSize)
	}
	return MonitorStatRequest{Categories: binary.LittleEndian.Uint64(b)}, nil
}
