package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// Records (buckets, object metadata, index pages, uploads) are small JSON
// values in the cluster, each under a key of a namespace of its own.
//
// Compare-and-swap is checked in each group separately, so two writers
// racing on a key in two groups can each win in one group and leave the
// groups different, both told they succeeded. Records are therefore
// changed by CAS in the session's lowest group only (the primary), which
// orders the writers, and the value that won is then copied to the other
// groups with the primary's timestamp and IOCASTimestamp (a late copy
// never replaces a newer one): the copies are for durability and recovery.
// Records are read from the primary, and from the other groups only when
// it cannot answer.

// primary returns s limited to its lowest group (the same in every
// frontend whatever the order of its groups), and the other groups.
func primary(s *client.Session) (*client.Session, []uint32) {
	gs := s.Groups()
	if len(gs) <= 1 {
		return s, nil
	}
	slices.Sort(gs)
	p := s.Clone()
	p.SetGroups(gs[0])
	return p, gs[1:]
}

// readJSON reads key into v; found is false when the key does not exist.
func readJSON(ctx context.Context, s *client.Session, key string, v any) (found bool, err error) {
	p, _ := primary(s)
	e, err := p.Read(ctx, client.NewKey(key), 0, 0)
	if err != nil && !errors.Is(err, status.ErrNotFound) && p != s {
		e, _, err = s.ReadLatest(ctx, client.NewKey(key), 0, 0)
	}
	if errors.Is(err, status.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s/%s: %w", s.Namespace(), key, err)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return false, fmt.Errorf("decode %s/%s: %w", s.Namespace(), key, err)
	}
	return true, nil
}

// writeJSON stores v under key.
func writeJSON(ctx context.Context, s *client.Session, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := s.Write(ctx, client.NewKey(key), b); err != nil {
		return fmt.Errorf("write %s/%s: %w", s.Namespace(), key, err)
	}
	return nil
}

// casJSON is a read-modify-write of the record under key: fn gets the
// current record (found false when absent) and changes it; returning
// errSkip leaves it unchanged.
func casJSON[T any](ctx context.Context, s *client.Session, key string, fn func(cur *T, found bool) error) error {
	skipped := false
	var out []byte
	p, others := primary(s)
	res, err := p.WriteCAS(ctx, client.NewKey(key), func(cur []byte) ([]byte, error) {
		var v T
		skipped = false
		if cur != nil {
			if err := json.Unmarshal(cur, &v); err != nil {
				return nil, fmt.Errorf("decode: %w", err)
			}
		}
		if err := fn(&v, cur != nil); err != nil {
			if errors.Is(err, errSkip) {
				skipped = true
				return nil, errSkip
			}
			return nil, err
		}
		b, err := json.Marshal(&v)
		out = b
		return b, err
	}, 64)
	if skipped {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update %s/%s: %w", s.Namespace(), key, err)
	}
	if len(others) > 0 {
		ts := time.Now()
		if len(res.Entries) > 0 && !res.Entries[0].Timestamp.IsZero() {
			ts = res.Entries[0].Timestamp
		}
		m := s.Clone()
		m.SetGroups(others...)
		m.SetTimestamp(ts)
		// Best effort: the primary has the value; a copy that fails (or
		// that a newer one beat) is left to recovery.
		_, _ = m.WriteWith(ctx, client.NewKey(key), out, client.WriteOptions{CASTimestamp: true})
	}
	return nil
}

var errSkip = errors.New("no change")

// remove deletes key, ignoring "not found".
func remove(ctx context.Context, s *client.Session, key string) error {
	if _, err := s.Remove(ctx, client.NewKey(key)); err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("remove %s/%s: %w", s.Namespace(), key, err)
	}
	return nil
}
