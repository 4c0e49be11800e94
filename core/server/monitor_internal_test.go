package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/proto"
)

// Recording a request's statistics allocates nothing once its command and
// key have been seen: it runs for every request.
func TestServedDoesNotAllocate(t *testing.T) {
	var m monitorState
	m.init(MonitorOptions{})
	tk := &task{e: handlerEntry{opts: HandlerOptions{Backend: true}}, h: proto.NewHeader(proto.CmdRead, 1, key("k"), 1),
		payload: make([]byte, 100)}
	parts := [][]byte{make([]byte, 10), make([]byte, 1000)}
	start := time.Now()
	m.served(tk, start, parts, nil) // first of its command and key
	allocs := testing.AllocsPerRun(1000, func() { m.served(tk, start, parts, nil) })
	require.Zero(t, allocs)
	cs := m.cmds.Snapshot()
	require.Len(t, cs, 1)
	require.Equal(t, uint64(1002), cs[0].Storage.Count)
	require.Equal(t, uint64(1002*1110), cs[0].Storage.Bytes)

	// Intermediate replies of a stream count too.
	tk.rep = replier{sent: &tk.sent}
	tk.sent.Add(500)
	m.served(tk, start, parts, nil)
	require.Equal(t, uint64(1003*1110+500), m.cmds.Snapshot()[0].Storage.Bytes)

	tk.forwarded = true // forward counted it already
	m.served(tk, start, parts, nil)
	require.Equal(t, uint64(1003), m.cmds.Snapshot()[0].Storage.Count)
}
