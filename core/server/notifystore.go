package server

import (
	"context"

	"github.com/elliptics/elliptics/core/backend"
)

// notifyStore is a backend whose committed writes tell the watchers of
// their keys. The node's own write paths that bypass the WRITE handler
// (recovery copies and pulls, server-send copies to a local backend) write
// through it; the WRITE handler publishes itself. Removes are not
// published here: the paths that remove a user's record publish
// explicitly, and a merge that removes a record it moved away must not
// (the key lives on at its new owner).
type notifyStore struct {
	backend.Backend
	s     *Server
	group uint32
}

// Unwrap implements backend.Wrapper: the store's optional interfaces
// (range hashes, column lists) stay visible through backend.As.
func (ns *notifyStore) Unwrap() backend.Backend { return ns.Backend }

// notifying wraps st so its writes notify the watchers of group's keys.
func (s *Server) notifying(st backend.Backend, group uint32) backend.Backend {
	if ns, ok := st.(*notifyStore); ok && ns.group == group {
		return st
	}
	return &notifyStore{Backend: st, s: s, group: group}
}

func (ns *notifyStore) Write(ctx context.Context, wr *backend.WriteRequest) (backend.Meta, error) {
	meta, err := ns.Backend.Write(ctx, wr)
	// Tombstones are node records (ApplyTombstone publishes the remove);
	// the chunks of an upload before its commit are not visible yet.
	if err == nil && !backend.Reserved(wr.Key.Column) && (!wr.Phased() || wr.Commit) {
		ns.s.notifyWrite(ns.group, &wr.Key, &meta, 0)
	}
	return meta, err
}
