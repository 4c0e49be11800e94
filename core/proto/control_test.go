package proto

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/status"
)

func TestControlNumbers(t *testing.T) {
	// The numbers are the original's; they are on the wire.
	for _, tc := range []struct {
		got, want uint32
	}{
		{uint32(CmdBackendControl), 25}, {uint32(CmdBackendStatus), 26},
		{uint32(ControlEnable), 0}, {uint32(ControlDisable), 1}, {uint32(ControlStartDefrag), 2},
		{uint32(ControlSetIDs), 3}, {uint32(ControlReadOnly), 4}, {uint32(ControlWritable), 5},
		{uint32(ControlDelay), 6}, {uint32(ControlStopDefrag), 7},
		{uint32(StateDisabled), 0}, {uint32(StateEnabled), 1}, {uint32(StateActivating), 2},
		{uint32(StateDeactivating), 3}, {uint32(DefragNotStarted), 0}, {uint32(DefragInProgress), 1},
	} {
		require.Equal(t, tc.want, tc.got)
	}
	require.Equal(t, "BACKEND_STATUS", CmdBackendStatus.String())
	require.Equal(t, "BACKEND_CONTROL", CmdBackendControl.String())
	require.Equal(t, "stop_defrag", ControlStopDefrag.String())
	require.Equal(t, "control(9)", ControlCommand(9).String())
	require.Equal(t, "deactivating", StateDeactivating.String())
	require.Equal(t, "state(7)", BackendState(7).String())
	require.Equal(t, "in_progress", DefragInProgress.String())
	require.Equal(t, "defrag(5)", DefragState(5).String())
}

func TestBackendControlRoundTrip(t *testing.T) {
	for _, c := range []BackendControl{
		{},
		{BackendID: 7, Command: ControlStopDefrag},
		{BackendID: -1, Command: ControlCommand(1 << 31)},
	} {
		b := c.Append(nil)
		require.Len(t, b, BackendControlSize)
		got, err := DecodeBackendControl(b)
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	b := (&BackendControl{BackendID: 2, Command: ControlDisable}).Append(nil)
	require.Equal(t, []byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, b)
	for n := 0; n < len(b); n++ {
		_, err := DecodeBackendControl(b[:n])
		require.ErrorIs(t, err, status.ErrProtocol, "truncated at %d", n)
	}
	_, err := DecodeBackendControl(append(b, 0))
	require.ErrorIs(t, err, status.ErrProtocol, "trailing byte")
}

func TestBackendStatusListRoundTrip(t *testing.T) {
	started := time.Unix(1700000000, 123).UTC()
	full := BackendStatus{
		ID: 3, Group: 4294967295, State: StateEnabled, ReadOnly: true, DefragState: DefragInProgress,
		Defrag: DefragProgress{FilesDone: 1, FilesTotal: 2, BytesDone: 3, BytesTotal: 4, Reclaimed: 5,
			StartedAt: started, FinishedAt: started.Add(time.Second), Err: "disk on fire"},
		Records: 10, Bytes: 20, LastError: "open: permission denied",
	}
	for _, tc := range []struct {
		name string
		list []BackendStatus
	}{
		{"empty", []BackendStatus{}},
		{"one zero", []BackendStatus{{}}},
		{"full", []BackendStatus{full, {ID: 4, Group: 1, State: StateDeactivating}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := AppendBackendStatusList(nil, tc.list)
			got, err := DecodeBackendStatusList(b)
			require.NoError(t, err)
			require.Equal(t, tc.list, got)
			// Every truncation is refused, never a panic.
			for n := 0; n < len(b); n++ {
				_, err := DecodeBackendStatusList(b[:n])
				require.ErrorIs(t, err, status.ErrProtocol, "truncated at %d", n)
			}
			_, err = DecodeBackendStatusList(append(b, 1))
			require.ErrorIs(t, err, status.ErrProtocol, "trailing byte")
		})
	}

	// Layout of the fixed part.
	b := AppendBackendStatusList(nil, []BackendStatus{full})
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(b[0:]))
	e := b[4:]
	require.Equal(t, uint32(3), binary.LittleEndian.Uint32(e[0:]))
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(e[8:]), "state")
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(e[12:]), "defrag state")
	require.Equal(t, byte(1), e[16], "read-only")
	require.Equal(t, uint64(10), binary.LittleEndian.Uint64(e[24:]), "records")
	require.Equal(t, uint64(5), binary.LittleEndian.Uint64(e[72:]), "reclaimed")
	require.Equal(t, uint64(1700000000), binary.LittleEndian.Uint64(e[80:]), "started")
	require.Equal(t, uint16(len("disk on fire")), binary.LittleEndian.Uint16(e[112:]))
}

func TestBackendStatusListLimits(t *testing.T) {
	// A huge count is refused before anything is allocated for it.
	_, err := DecodeBackendStatusList([]byte{0xff, 0xff, 0xff, 0xff})
	require.ErrorIs(t, err, status.ErrTooLarge)
	b := binary.LittleEndian.AppendUint32(nil, MaxBackends)
	_, err = DecodeBackendStatusList(b)
	require.ErrorIs(t, err, status.ErrProtocol, "count the bytes cannot hold")

	// Long strings are cut by the encoder and refused by the decoder.
	long := strings.Repeat("x", MaxBackendErrorLen+10)
	b = AppendBackendStatusList(nil, []BackendStatus{{LastError: long, Defrag: DefragProgress{Err: long}}})
	got, err := DecodeBackendStatusList(b)
	require.NoError(t, err)
	require.Len(t, got[0].LastError, MaxBackendErrorLen)
	require.Len(t, got[0].Defrag.Err, MaxBackendErrorLen)
	bad := AppendBackendStatusList(nil, []BackendStatus{{}})
	binary.LittleEndian.PutUint16(bad[4+112:], MaxBackendErrorLen+1)
	bad = append(bad, make([]byte, MaxBackendErrorLen+1)...)
	_, err = DecodeBackendStatusList(bad)
	require.ErrorIs(t, err, status.ErrTooLarge)

	// A bad timestamp is a protocol error.
	bad = AppendBackendStatusList(nil, []BackendStatus{{}})
	binary.LittleEndian.PutUint64(bad[4+88:], 2e9) // started nanoseconds
	_, err = DecodeBackendStatusList(bad)
	require.ErrorIs(t, err, status.ErrProtocol)

	// The encoder keeps at most MaxBackends entries.
	many := make([]BackendStatus, MaxBackends+1)
	got, err = DecodeBackendStatusList(AppendBackendStatusList(nil, many))
	require.NoError(t, err)
	require.Len(t, got, MaxBackends)
}
