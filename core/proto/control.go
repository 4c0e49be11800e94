package proto

import (
	"fmt"
	"math"
	"time"

	"github.com/elliptics/elliptics/core/status"
)

// ControlCommand is what a BACKEND_CONTROL request asks of a backend. The
// numbers are the original's DNET_BACKEND_* control commands.
type ControlCommand uint32

// Backend control commands.
const (
	ControlEnable      ControlCommand = 0 // open the backend and serve it
	ControlDisable     ControlCommand = 1 // stop serving, wait for requests in flight, close
	ControlStartDefrag ControlCommand = 2 // start a defragmentation in the background
	ControlSetIDs      ControlCommand = 3 // reserved (replace ring IDs): Unsupported
	ControlReadOnly    ControlCommand = 4 // refuse writes and removes
	ControlWritable    ControlCommand = 5 // accept writes again
	ControlDelay       ControlCommand = 6 // delay every data command of the backend (BackendControl.Delay)
	ControlStopDefrag  ControlCommand = 7 // stop a running defragmentation
)

var controlNames = map[ControlCommand]string{
	ControlEnable:      "enable",
	ControlDisable:     "disable",
	ControlStartDefrag: "start_defrag",
	ControlSetIDs:      "set_ids",
	ControlReadOnly:    "read_only",
	ControlWritable:    "writable",
	ControlDelay:       "delay",
	ControlStopDefrag:  "stop_defrag",
}

// String names the command ("enable", "start_defrag", ...).
func (c ControlCommand) String() string {
	if n, ok := controlNames[c]; ok {
		return n
	}
	return fmt.Sprintf("control(%d)", uint32(c))
}

// BackendState is the run state of a backend (DNET_BACKEND_* states).
type BackendState uint32

// Backend states.
const (
	StateDisabled     BackendState = 0 // not serving; closed
	StateEnabled      BackendState = 1 // serving
	StateActivating   BackendState = 2 // being opened by an enable
	StateDeactivating BackendState = 3 // being drained and closed by a disable
)

// String names the state ("enabled", "disabled", ...).
func (s BackendState) String() string {
	switch s {
	case StateDisabled:
		return "disabled"
	case StateEnabled:
		return "enabled"
	case StateActivating:
		return "activating"
	case StateDeactivating:
		return "deactivating"
	}
	return fmt.Sprintf("state(%d)", uint32(s))
}

// DefragState says whether a defragmentation runs (DNET_BACKEND_DEFRAG_*).
type DefragState uint32

// Defragmentation states.
const (
	DefragNotStarted DefragState = 0
	DefragInProgress DefragState = 1
)

// String names the state ("not_started", "in_progress").
func (s DefragState) String() string {
	switch s {
	case DefragNotStarted:
		return "not_started"
	case DefragInProgress:
		return "in_progress"
	}
	return fmt.Sprintf("defrag(%d)", uint32(s))
}

// BackendControlSize is the size of an encoded BackendControl.
const BackendControlSize = 16

// BackendControl is the request payload of BACKEND_CONTROL (a slimmed-down
// dnet_backend_control).
//
//	off size field
//	  0    4 backend id (i32)
//	  4    4 command (u32)
//	  8    4 delay in milliseconds (u32; ControlDelay only, else zero)
//	 12    4 reserved, zero
//
// The delay takes the first half of what used to be 8 reserved bytes, so a
// payload written before it (zeros there) stays valid and means no delay.
type BackendControl struct {
	BackendID int32
	Command   ControlCommand
	// Delay is the artificial delay ControlDelay sets (0 removes it);
	// carried in whole milliseconds, at most MaxBackendDelay.
	Delay time.Duration
}

// MaxBackendDelay is the longest artificial delay BACKEND_CONTROL carries.
const MaxBackendDelay = time.Duration(math.MaxUint32) * time.Millisecond

// delayToWire converts a delay to whole milliseconds, clamped to the u32
// range.
func delayToWire(d time.Duration) uint32 {
	switch {
	case d <= 0:
		return 0
	case d >= MaxBackendDelay:
		return math.MaxUint32
	}
	return uint32(d / time.Millisecond)
}

// Append appends the encoding of c to dst.
func (c *BackendControl) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.u32(uint32(c.BackendID))
	e.u32(uint32(c.Command))
	e.u32(delayToWire(c.Delay))
	e.u32(0)
	return e.b
}

// DecodeBackendControl parses a BACKEND_CONTROL request payload.
func DecodeBackendControl(b []byte) (BackendControl, error) {
	d := dec{b: b, what: "backend control"}
	var c BackendControl
	c.BackendID = int32(d.u32())
	c.Command = ControlCommand(d.u32())
	c.Delay = time.Duration(d.u32()) * time.Millisecond
	d.u32()
	return c, d.done()
}

// MaxBackendErrorLen limits each error string of a BackendStatus.
const MaxBackendErrorLen = 1024

// backendStatusFixed is the fixed part of an encoded BackendStatus; two
// str16 strings follow.
const backendStatusFixed = 112

// DefragProgress is the progress of a backend's running or last
// defragmentation.
type DefragProgress struct {
	FilesDone, FilesTotal uint64
	BytesDone, BytesTotal uint64
	Reclaimed             uint64    // bytes returned to the file system
	StartedAt             time.Time // zero if never run
	FinishedAt            time.Time // zero while running or if never run
	Err                   string    // why the last run failed, "" if it did not
}

// BackendStatus describes one backend of a node (dnet_backend_status).
//
//	off size field
//	  0    4 backend id (i32)
//	  4    4 group (u32)
//	  8    4 state (u32, BackendState)
//	 12    4 defrag state (u32, DefragState)
//	 16    1 read_only (u8, 0/1)
//	 17    3 reserved, zero
//	 20    4 artificial delay in milliseconds (u32; 0 = none)
//	 24    8 records
//	 32    8 bytes
//	 40    8 defrag files done
//	 48    8 defrag files total
//	 56    8 defrag bytes done
//	 64    8 defrag bytes total
//	 72    8 defrag bytes reclaimed
//	 80   16 defrag started at (seconds, nanoseconds; 0 = never)
//	 96   16 defrag finished at (seconds, nanoseconds; 0 = not finished)
//	112  str16 defrag error (<= MaxBackendErrorLen)
//	  …  str16 last error (<= MaxBackendErrorLen)
type BackendStatus struct {
	ID          int32
	Group       uint32
	State       BackendState
	ReadOnly    bool
	DefragState DefragState
	Defrag      DefragProgress
	Records     uint64 // live records (backend Stats)
	Bytes       uint64 // live data bytes (backend Stats)
	// Delay is the artificial delay before each data command (ControlDelay,
	// whole milliseconds); 0 = none.
	Delay time.Duration
	// LastError says why the backend failed to open or is read-only on its
	// own; "" if nothing went wrong.
	LastError string
}

func (s *BackendStatus) appendTo(e *enc) {
	e.u32(uint32(s.ID))
	e.u32(s.Group)
	e.u32(uint32(s.State))
	e.u32(uint32(s.DefragState))
	var ro uint8
	if s.ReadOnly {
		ro = 1
	}
	e.u8(ro)
	e.u8(0) // 3 reserved bytes
	e.u16(0)
	e.u32(delayToWire(s.Delay))
	e.u64(s.Records)
	e.u64(s.Bytes)
	p := &s.Defrag
	e.u64(p.FilesDone)
	e.u64(p.FilesTotal)
	e.u64(p.BytesDone)
	e.u64(p.BytesTotal)
	e.u64(p.Reclaimed)
	sec, nsec := timeToWire(p.StartedAt)
	e.u64(sec)
	e.u64(nsec)
	sec, nsec = timeToWire(p.FinishedAt)
	e.u64(sec)
	e.u64(nsec)
	e.str16(truncate(p.Err, MaxBackendErrorLen))
	e.str16(truncate(s.LastError, MaxBackendErrorLen))
}

func decodeBackendStatus(d *dec) BackendStatus {
	var s BackendStatus
	s.ID = int32(d.u32())
	s.Group = d.u32()
	s.State = BackendState(d.u32())
	s.DefragState = DefragState(d.u32())
	s.ReadOnly = d.u8() != 0
	d.bytes(3)
	s.Delay = time.Duration(d.u32()) * time.Millisecond
	s.Records = d.u64()
	s.Bytes = d.u64()
	p := &s.Defrag
	p.FilesDone = d.u64()
	p.FilesTotal = d.u64()
	p.BytesDone = d.u64()
	p.BytesTotal = d.u64()
	p.Reclaimed = d.u64()
	ss, sn, fs, fn := d.u64(), d.u64(), d.u64(), d.u64()
	p.Err = d.str16(MaxBackendErrorLen)
	s.LastError = d.str16(MaxBackendErrorLen)
	if d.err != nil {
		return s
	}
	var err error
	if p.StartedAt, err = timeFromWire(ss, sn); err == nil {
		p.FinishedAt, err = timeFromWire(fs, fn)
	}
	if err != nil {
		d.err = fmt.Errorf("%s: defrag time: %w", d.what, err)
	}
	return s
}

// AppendBackendStatusList appends a status list: a u32 count (at most
// MaxBackends; more are dropped) followed by that many BackendStatus. It is
// the reply payload of BACKEND_STATUS and BACKEND_CONTROL.
func AppendBackendStatusList(dst []byte, list []BackendStatus) []byte {
	list = list[:min(len(list), MaxBackends)]
	e := enc{b: dst}
	e.u32(uint32(len(list)))
	for i := range list {
		list[i].appendTo(&e)
	}
	return e.b
}

// DecodeBackendStatusList parses a BACKEND_STATUS or BACKEND_CONTROL reply
// payload.
func DecodeBackendStatusList(b []byte) ([]BackendStatus, error) {
	d := dec{b: b, what: "backend status list"}
	n := d.u32()
	if d.err == nil && n > MaxBackends {
		return nil, status.Errorf(status.TooLarge, "backend status list: %d backends over the limit of %d", n, MaxBackends)
	}
	// Each entry takes at least its fixed part and two string lengths:
	// refuse a count the remaining bytes cannot hold before allocating.
	if !d.need(int(n) * (backendStatusFixed + 4)) {
		return nil, d.err
	}
	list := make([]BackendStatus, 0, n)
	for i := uint32(0); i < n && d.err == nil; i++ {
		list = append(list, decodeBackendStatus(&d))
	}
	if err := d.done(); err != nil {
		return nil, err
	}
	return list, nil
}
