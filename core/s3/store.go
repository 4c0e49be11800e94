package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

// Records (buckets, object metadata, index pages, uploads) are small JSON
// values in the cluster, each under a key of a namespace of its own.

// readJSON reads key into v; found is false when the key does not exist.
func readJSON(ctx context.Context, s *client.Session, key string, v any) (found bool, err error) {
	e, _, err := s.ReadLatest(ctx, client.NewKey(key), 0, 0)
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
	_, err := s.WriteCAS(ctx, client.NewKey(key), func(cur []byte) ([]byte, error) {
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
		return json.Marshal(&v)
	}, 64)
	if skipped {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update %s/%s: %w", s.Namespace(), key, err)
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
