package proto

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/id"
)

func seedFrames(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteFrame(&buf, NewHeader(CmdWrite, 1, id.Zero, 1), (&IOAttr{Column: "c"}).Append(nil), []byte("x"))
	f.Add(buf.Bytes())
	f.Add(AppendFrame(nil, NewHeader(CmdBackendStatus, 2, id.Max, 3)))
	f.Add([]byte{})
}

// FuzzReader feeds arbitrary bytes to the frame reader and every payload
// decoder: none may panic, and a frame that decodes must re-encode the same.
func FuzzReader(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 1<<16)
		for i := 0; i < 16; i++ {
			h, p, err := r.Next()
			if err != nil {
				return
			}
			if uint64(len(p)) != h.Size {
				t.Fatalf("payload %d bytes, header says %d", len(p), h.Size)
			}
			var hb [HeaderSize]byte
			h.Encode(hb[:])
			h2, err := DecodeHeader(hb[:])
			if err != nil || h2 != h {
				t.Fatalf("header does not round-trip: %v", err)
			}
			decodeAll(p)
		}
	})
}

// FuzzPayloads runs every payload decoder on arbitrary bytes.
func FuzzPayloads(f *testing.F) {
	f.Add((&IOAttr{Column: "meta", Size: 3}).Append(nil))
	f.Add((&LookupInfo{Address: "a", Path: "p"}).Append(nil))
	f.Add((&HandshakeRequest{Name: "x"}).Append(nil))
	f.Add((&NodeInfo{Addresses: []string{"a"}, Backends: []BackendInfo{{ID: 1}}}).Append(nil))
	f.Add((&BackendControl{BackendID: 3, Command: ControlStopDefrag}).Append(nil))
	f.Add(AppendBackendStatusList(nil, []BackendStatus{{ID: 1, Group: 2, State: StateEnabled, ReadOnly: true,
		Defrag: DefragProgress{FilesDone: 1, StartedAt: time.Unix(5, 6), Err: "e"}, LastError: "x"}}))
	f.Add((&RecoveryRequest{Action: "start", Kind: "dc", Backend: -1, DryRun: true}).Append(nil))
	f.Add((&NotifyRequest{Action: NotifyWatch, Queue: 16}).Append(nil))
	f.Add((&NotifyEvent{WatchID: 1, Kind: NotifyWrite, Group: 2, Size: 3, Timestamp: time.Unix(4, 5), Column: "c"}).Append(nil))
	f.Add((&ExecRequest{Groups: []uint32{1, 2}, Script: "s", Function: "f", Key: "k", Data: []byte("d")}).Append(nil))
	f.Add((&ExecReply{Address: "a:1", Group: 1}).AppendHead(nil))
	f.Add((&AuthRequest{Step: AuthStepHello, Kind: AuthKindClient, KeyID: "k"}).Append(nil))
	f.Add((&AuthRequest{Step: AuthStepProof}).Append(nil))
	f.Fuzz(func(t *testing.T, b []byte) { decodeAll(b) })
}

func decodeAll(b []byte) {
	if a, _, err := DecodeIOAttr(b); err == nil {
		a2, _, err := DecodeIOAttr(a.Append(nil))
		if err != nil || a2.Column != a.Column || a2.Size != a.Size {
			panic("io attr does not round-trip")
		}
	}
	if l, err := DecodeLookupInfo(b); err == nil {
		_ = l.Append(nil)
	}
	if r, err := DecodeHandshakeRequest(b); err == nil {
		_ = r.Append(nil)
	}
	if c, err := DecodeBackendControl(b); err == nil {
		if c2, err := DecodeBackendControl(c.Append(nil)); err != nil || c2 != c {
			panic("backend control does not round-trip")
		}
	}
	if l, err := DecodeBackendStatusList(b); err == nil {
		l2, err := DecodeBackendStatusList(AppendBackendStatusList(nil, l))
		if err != nil || !reflect.DeepEqual(l, l2) {
			panic(fmt.Sprintf("backend status list does not round-trip: %v", err))
		}
	}
	if r, err := DecodeRoutesChanged(b); err == nil {
		_ = r.Append(nil)
	}
	if r, err := DecodeRecoveryRequest(b); err == nil {
		if r2, err := DecodeRecoveryRequest(r.Append(nil)); err != nil || r2 != r {
			panic(fmt.Sprintf("recovery request does not round-trip: %v", err))
		}
	}
	if r, err := DecodeNotifyRequest(b); err == nil {
		if r2, err := DecodeNotifyRequest(r.Append(nil)); err != nil || r2 != r {
			panic(fmt.Sprintf("notify request does not round-trip: %v", err))
		}
	}
	if e, err := DecodeNotifyEvent(b); err == nil {
		if e2, err := DecodeNotifyEvent(e.Append(nil)); err != nil || !reflect.DeepEqual(e, e2) {
			panic(fmt.Sprintf("notify event does not round-trip: %v", err))
		}
	}
	if r, err := DecodeExecRequest(b); err == nil {
		if r2, err := DecodeExecRequest(r.Append(nil)); err != nil || !reflect.DeepEqual(r, r2) {
			panic(fmt.Sprintf("exec request does not round-trip: %v", err))
		}
	}
	if r, err := DecodeExecReply(b); err == nil {
		if r2, err := DecodeExecReply(append(r.AppendHead(nil), r.Result...)); err != nil || r2.Address != r.Address || r2.Group != r.Group {
			panic(fmt.Sprintf("exec reply does not round-trip: %v", err))
		}
	}
	if r, err := DecodeAuthRequest(b); err == nil {
		if r2, err := DecodeAuthRequest(r.Append(nil)); err != nil || r2 != r {
			panic(fmt.Sprintf("auth request does not round-trip: %v", err))
		}
	}
	if v, err := DecodeAuthReply(b); err == nil && len(b) != len(v) {
		panic("auth reply of the wrong length accepted")
	}
	if n, err := DecodeNodeInfo(b); err == nil {
		if _, err := DecodeNodeInfo(n.Append(nil)); err != nil {
			panic("node info does not round-trip: " + err.Error())
		}
	}
}
