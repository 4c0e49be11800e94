package client_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/status"
)

type bulkRead func(ctx context.Context, keys []client.Key, each func(i int, e client.Entry, err error)) error
type bulkWrite func(keys []client.Key, datas [][]byte, each func(i int, r client.Result, err error)) error

// TestBulkEdges: in the blocking and the asynchronous forms alike, every key
// is reported once and a call completes once whatever happens: keys missing
// in every group (NotFound, with the last group's entry), keys that cannot
// be resolved, all keys of a call whose context already ended, values that
// do not match the keys.
func TestBulkEdges(t *testing.T) {
	forms := []struct {
		name  string
		read  func(s *client.Session) bulkRead
		write func(s *client.Session, ctx context.Context) bulkWrite
	}{
		{"blocking",
			func(s *client.Session) bulkRead { return s.BulkRead },
			func(s *client.Session, ctx context.Context) bulkWrite {
				return func(keys []client.Key, datas [][]byte, each func(i int, r client.Result, err error)) error {
					return s.BulkWrite(ctx, keys, datas, each)
				}
			}},
		{"async",
			func(s *client.Session) bulkRead {
				return func(ctx context.Context, keys []client.Key, each func(i int, e client.Entry, err error)) error {
					ch := make(chan error, 2)
					s.BulkReadAsync(ctx, keys, each, func(err error) { ch <- err })
					return <-ch
				}
			},
			func(s *client.Session, ctx context.Context) bulkWrite {
				return func(keys []client.Key, datas [][]byte, each func(i int, r client.Result, err error)) error {
					ch := make(chan error, 2)
					s.BulkWriteAsync(ctx, keys, datas, each, func(err error) { ch <- err })
					return <-ch
				}
			}},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			_, addr := startNode(t, 1, 2)
			s := connect(t, addr)
			s.SetGroups(1, 2)
			ctx := context.Background()
			read, write := f.read(s), f.write(s, ctx)
			_, err := s.Write(ctx, client.NewKey("present"), []byte("v"))
			require.NoError(t, err)

			keys := []client.Key{client.NewKey("present"), client.NewKey("absent"),
				client.NewKey("bad").WithColumn(string(make([]byte, 300)))}
			errs := make([]error, len(keys))
			entries := make([]client.Entry, len(keys))
			calls := 0
			require.NoError(t, read(ctx, keys, func(i int, e client.Entry, err error) {
				calls++
				errs[i], entries[i] = err, e
			}))
			require.Equal(t, len(keys), calls)
			require.NoError(t, errs[0])
			require.Equal(t, "v", string(entries[0].Data))
			require.Equal(t, uint32(1), entries[0].Group)
			require.ErrorIs(t, errs[1], status.ErrNotFound)
			require.Equal(t, uint32(2), entries[1].Group, "the last group tried")
			require.Equal(t, status.NotFound, entries[1].Status)
			require.ErrorIs(t, errs[2], status.ErrTooLarge)

			cctx, cancel := context.WithCancel(ctx)
			cancel()
			calls = 0
			err = read(cctx, keys[:2], func(i int, e client.Entry, err error) {
				calls++
				require.Error(t, err)
			})
			require.ErrorIs(t, err, context.Canceled)
			require.Equal(t, 2, calls)

			// An unresolvable key fails that key only.
			var failed int
			err = write(keys[1:], [][]byte{[]byte("a"), []byte("b")}, func(i int, r client.Result, err error) {
				if err != nil {
					failed++
					require.Equal(t, 1, i)
					return
				}
				require.Equal(t, 2, r.Succeeded)
			})
			require.ErrorContains(t, err, "1 of 2 keys failed")
			require.Equal(t, 1, failed)
			require.ErrorContains(t, write(keys[:1], nil, nil), "1 keys but 0 values")

			got := ""
			require.NoError(t, read(ctx, keys[1:2], func(_ int, e client.Entry, err error) {
				require.NoError(t, err)
				got = string(e.Data)
			}))
			require.Equal(t, "a", got, "the write landed")
		})
	}
}
