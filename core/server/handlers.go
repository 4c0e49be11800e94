package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/status"
)

func (s *Server) registerCore() {
	data := HandlerOptions{Ordered: true, Backend: true}
	s.Handle(proto.CmdHandshake, s.handleHandshake, HandlerOptions{})
	s.Handle(proto.CmdRouteList, s.handleRouteList, HandlerOptions{})
	s.Handle(proto.CmdBackendStatus, s.handleBackendStatus, HandlerOptions{})
	s.Handle(proto.CmdBackendControl, s.handleBackendControl, HandlerOptions{})
	s.Handle(proto.CmdWrite, s.handleWrite, data)
	s.Handle(proto.CmdRead, s.withHandoff(s.handleRead), data)
	s.Handle(proto.CmdLookup, s.withHandoff(s.handleLookup), data)
	s.Handle(proto.CmdRemove, s.removeWithHandoff, data)
	s.Handle(proto.CmdRecovery, s.handleRecovery, HandlerOptions{})
	s.Handle(proto.CmdMonitorStat, s.handleMonitorStat, HandlerOptions{})
	// A watch lives on the key's owner (localBackend) and streams: never
	// forwarded, because forwarding relays only a final reply.
	s.Handle(proto.CmdNotify, s.handleNotify, HandlerOptions{})
	// A script may run long and write its own key: not Ordered, and it
	// routes (and forwards) itself, since a fan-out names no key.
	s.Handle(proto.CmdExec, s.handleExec, HandlerOptions{})
	// Range, iterator and send requests span many keys (not ordered) and
	// resolve their backend themselves (localBackend): they are never
	// forwarded, because forwarding relays only a final reply.
	s.Handle(proto.CmdReadRange, s.handleRange, HandlerOptions{})
	s.Handle(proto.CmdRemoveRange, s.handleRange, HandlerOptions{})
	s.Handle(proto.CmdIterator, newIterators(s).handle, HandlerOptions{})
	s.Handle(proto.CmdSend, s.handleSend, HandlerOptions{})
	// Bulk requests carry many keys of one group: each key goes through
	// the per-key queue and the single READ/WRITE handler (bulk.go); a key
	// another node owns is forwarded there as a single command.
	s.Handle(proto.CmdBulkRead, s.handleBulk, HandlerOptions{})
	s.Handle(proto.CmdBulkWrite, s.handleBulk, HandlerOptions{})
}

func (s *Server) handleHandshake(_ context.Context, req *Request, _ Replier) ([][]byte, error) {
	hr, err := proto.DecodeHandshakeRequest(req.Payload)
	if err != nil {
		return nil, err
	}
	if hr.Major != proto.VersionMajor {
		return nil, status.Errorf(status.Protocol, "client speaks protocol %d.%d, node speaks %d.%d",
			hr.Major, hr.Minor, proto.VersionMajor, proto.VersionMinor)
	}
	if hr.Node != nil && len(hr.Node.Addresses) > 0 {
		s.joined(hr.Node, req.Remote)
		if req.conn != nil {
			req.conn.peer.Store(true)
		}
	}
	if req.conn != nil {
		req.conn.shook.Store(true)
	}
	info := s.nodeInfo()
	return [][]byte{info.Append(nil)}, nil
}

// decodeAttr parses the IOAttr that opens every data payload.
func decodeAttr(req *Request) (proto.IOAttr, []byte, error) {
	a, rest, err := proto.DecodeIOAttr(req.Payload)
	if err != nil {
		return a, nil, err
	}
	if err := a.Validate(); err != nil {
		return a, nil, err
	}
	if backend.Reserved(a.Column) {
		return a, nil, status.Errorf(status.Invalid, "column names starting with a NUL byte are reserved for the node")
	}
	return a, rest, nil
}

// PrepareTimeout is the default of Options.UploadTimeout: how long a
// chunked upload may stay uncommitted when its prepare carries no TTL; then
// the record expires, becomes reclaimable, and later plain writes and the
// commit get NotFound (the original's recovery removed uncommitted records
// after --prepare-timeout, one day by default). A prepare with a TTL sets
// the upload's own deadline instead.
const PrepareTimeout = 24 * time.Hour

func (s *Server) handleWrite(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	a, data, err := decodeAttr(req)
	if err != nil {
		return nil, err
	}
	var cond backend.Condition
	if a.Flags.Has(proto.IOCompareAndSwap) {
		if len(data) < proto.CASSize {
			return nil, status.Errorf(status.Protocol, "write: compare-and-swap needs the %d-byte expected checksum after the column, payload carries %d bytes",
				proto.CASSize, len(data))
		}
		var sum id.ID
		copy(sum[:], data[:proto.CASSize])
		cond.Checksum, data = &sum, data[proto.CASSize:]
	}
	if a.Size != 0 && a.Size != uint64(len(data)) {
		return nil, status.Errorf(status.Invalid, "write: io attr says %d bytes, payload carries %d", a.Size, len(data))
	}
	if req.Backend.ReadOnly() {
		return nil, status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only", req.Backend.ID, req.Backend.Group)
	}
	now := time.Now().UTC()
	ts := a.Timestamp
	if ts.IsZero() {
		ts = now
	}
	if a.Flags.Has(proto.IOTombstone) {
		if len(data) != 0 || a.Timestamp.IsZero() {
			return nil, status.Errorf(status.Invalid, "write: a tombstone carries a timestamp and no data")
		}
		err := backend.ApplyTombstone(ctx, req.Store, req.Header.ID, a.Column, a.Flags.Has(proto.IOWholeObject), ts,
			now.Add(s.opts.Recovery.TombstoneTTL))
		if err != nil {
			return nil, err
		}
		s.notifyRemove(req.Backend.Group, &req.Header.ID, a.Column, ts)
		li := proto.LookupInfo{IOAttr: proto.IOAttr{Column: a.Column, Timestamp: ts, RecordFlags: proto.RecordRemoved},
			Address: s.replyAddress(req)}
		return [][]byte{li.Append(nil)}, nil
	}
	if a.Flags.Has(proto.IOCASTimestamp) {
		cond.NotOlder, cond.Timestamp = true, ts
	}
	wr := &backend.WriteRequest{
		Key:       backend.Key{ID: req.Header.ID, Column: a.Column},
		Data:      data,
		Offset:    a.Offset,
		Append:    a.Flags.Has(proto.IOAppend),
		Timestamp: ts,
		UserFlags: a.UserFlags,
		Prepare:   a.Flags.Has(proto.IOPrepare),
		Plain:     a.Flags.Has(proto.IOPlainWrite),
		Commit:    a.Flags.Has(proto.IOCommit),
		TotalSize: a.TotalSize,
	}
	switch {
	case a.TTL > 0:
		wr.Expire = now.Add(a.TTL)
	case wr.Prepare && !wr.Commit:
		wr.Expire = now.Add(s.opts.UploadTimeout)
	}
	// The check and the write run as one step because the data handlers
	// are ordered per key: no other WRITE or REMOVE of this key runs in
	// between (unless a sender bypasses the queue with FlagNoLock).
	if err := cond.Check(ctx, req.Store, wr.Key); err != nil {
		return nil, err
	}
	meta, err := req.Store.Write(ctx, wr)
	if err != nil {
		return nil, err
	}
	var rf proto.RecordFlags
	if a.Flags.Has(proto.IOAppend) {
		rf |= proto.RecordAppend
	}
	if wr.Phased() && !wr.Commit {
		rf |= proto.RecordUncommitted
	}
	s.notifyWrite(req.Backend.Group, &wr.Key, &meta, rf)
	info := proto.LookupInfo{
		IOAttr: proto.IOAttr{Column: a.Column, Offset: a.Offset, Size: uint64(len(data)), TotalSize: meta.Size,
			Timestamp: meta.Timestamp, UserFlags: meta.UserFlags, RecordFlags: rf, Expire: meta.Expire},
		Address: s.replyAddress(req),
	}
	return [][]byte{info.Append(nil)}, nil
}

// handleRead serves a READ. A reply carries at most what fits in a frame:
// the backend is asked for one byte more than that, so a read of a bigger
// object (or range) never loads more than a frame, and is refused with
// TooLarge: big objects are read in ranges.
func (s *Server) handleRead(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	a, _, err := decodeAttr(req)
	if err != nil {
		return nil, err
	}
	key := backend.Key{ID: req.Header.ID, Column: a.Column}
	var data []byte
	var meta backend.Meta
	if a.Flags.Has(proto.IONoData) {
		var info backend.Info
		info, err = req.Store.Lookup(ctx, key, backend.LookupOptions{})
		meta = info.Meta
	} else {
		room := s.readRoom(a.Column)
		size := a.Size
		if size == 0 || size > room {
			size = room + 1
		}
		if br, ok := req.Store.(backend.BufferedReader); ok && req.alloc != nil {
			data, meta, err = br.ReadBuffered(ctx, key, a.Offset, size, req.alloc)
		} else {
			data, meta, err = req.Store.Read(ctx, key, a.Offset, size)
		}
		if err == nil && uint64(len(data)) > room {
			return nil, status.Errorf(status.TooLarge, "read at offset %d of an object of %d bytes: over the %d bytes a reply can carry; read it in ranges",
				a.Offset, meta.Size, room)
		}
	}
	if err != nil {
		return nil, err
	}
	reply := proto.IOAttr{Flags: a.Flags, Column: a.Column, Offset: a.Offset, Size: uint64(len(data)),
		TotalSize: meta.Size, Timestamp: meta.Timestamp, UserFlags: meta.UserFlags, Expire: meta.Expire}
	return [][]byte{reply.Append(nil), data}, nil
}

func (s *Server) handleLookup(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	a, _, err := decodeAttr(req)
	if err != nil {
		return nil, err
	}
	opts := backend.LookupOptions{Checksum: a.Flags.Has(proto.IOChecksum) || req.Header.Flags.Has(proto.FlagChecksum)}
	info, err := req.Store.Lookup(ctx, backend.Key{ID: req.Header.ID, Column: a.Column}, opts)
	if err != nil {
		return nil, err
	}
	li := proto.LookupInfo{
		IOAttr: proto.IOAttr{Column: a.Column, Size: info.Size, TotalSize: info.Size,
			Timestamp: info.Timestamp, UserFlags: info.UserFlags, Expire: info.Expire},
		Checksum: info.Checksum,
		Address:  s.replyAddress(req),
		Path:     info.Path,
	}
	return [][]byte{li.Append(nil)}, nil
}

// handleRemove serves REMOVE: the object (or column) goes, and a tombstone
// stays for Recovery.TombstoneTTL so that older copies (recovery, read
// repair, a replica that missed the remove) cannot bring it back. A
// missing object gets its tombstone too (its copies elsewhere may come
// here later) and the reply is still NotFound.
func (s *Server) handleRemove(ctx context.Context, req *Request, _ Replier) ([][]byte, error) {
	a, _, err := decodeAttr(req)
	if err != nil {
		return nil, err
	}
	if req.Backend.ReadOnly() {
		return nil, status.Errorf(status.ReadOnly, "backend %d (group %d) is read-only", req.Backend.ID, req.Backend.Group)
	}
	opts := backend.RemoveOptions{Column: a.Column,
		OnlyColumn: (a.Column != "" || a.Flags.Has(proto.IOColumnOnly)) && !a.Flags.Has(proto.IOWholeObject)}
	// Tombstones are columns of the object too: "found" means a user
	// column was there.
	found, err := hasUserColumn(ctx, req.Store, req.Header.ID, a.Column, opts.OnlyColumn)
	if err != nil {
		return nil, err
	}
	err = req.Store.Remove(ctx, req.Header.ID, opts)
	if err != nil && !errors.Is(err, status.ErrNotFound) {
		return nil, err
	}
	if !found {
		err = status.Errorf(status.NotFound, "key %s column %q", req.Header.ID.Short(), a.Column)
	} else {
		s.notifyRemove(req.Backend.Group, &req.Header.ID, a.Column, time.Now().UTC())
	}
	if s.opts.Recovery.TombstoneTTL > 0 {
		// The remover's timestamp, the same in every group (older
		// clients send none).
		now := time.Now().UTC()
		ts := a.Timestamp
		if ts.IsZero() {
			ts = now
		}
		if terr := backend.WriteTombstone(ctx, req.Store, req.Header.ID, a.Column, !opts.OnlyColumn, ts,
			now.Add(s.opts.Recovery.TombstoneTTL)); terr != nil {
			return nil, fmt.Errorf("remove: record the tombstone: %w", terr)
		}
	}
	return nil, err
}

// hasUserColumn reports whether the column (or, for a whole object, any
// column but the node's own) exists.
func hasUserColumn(ctx context.Context, st backend.Backend, oid id.ID, column string, only bool) (bool, error) {
	if only {
		_, err := st.Lookup(ctx, backend.Key{ID: oid, Column: column}, backend.LookupOptions{})
		if errors.Is(err, status.ErrNotFound) {
			return false, nil
		}
		return err == nil, err
	}
	recs, err := backend.Columns(ctx, st, oid)
	for _, r := range recs {
		if !backend.Reserved(r.Column) {
			return true, err
		}
	}
	return false, err
}

// readRoom is the most data bytes a READ reply can carry: the frame
// payload limit less the reply's io attr.
func (s *Server) readRoom(column string) uint64 {
	over := uint64(proto.IOAttrSize + len(column))
	if s.opts.MaxPayload <= over {
		return 0
	}
	return s.opts.MaxPayload - over
}
