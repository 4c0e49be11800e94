package blob

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/status"
)

// TestExpiryAndUploadsSurviveRestart: the expiry and the uncommitted flag
// live in the record header, so a restart (from the snapshot, or from a full
// scan of the log) keeps a value's lifetime and keeps an upload invisible
// and resumable.
func TestExpiryAndUploadsSurviveRestart(t *testing.T) {
	for _, snapshot := range []bool{true, false} {
		t.Run(map[bool]string{true: "snapshot", false: "full-scan"}[snapshot], func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{Sync: SyncNone}
			b := openTest(t, dir, opts)
			soon := time.Now().Add(300 * time.Millisecond)
			later := time.Now().Add(time.Hour)
			_, err := b.Write(ctx, &backend.WriteRequest{Key: k(1), Data: []byte("short"), Expire: soon})
			require.NoError(t, err)
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k(2), Data: []byte("long"), Expire: later})
			require.NoError(t, err)
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k(3), Data: []byte("ab"), Prepare: true, TotalSize: 4, Expire: later})
			require.NoError(t, err)
			require.NoError(t, b.Close())
			if !snapshot {
				require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
			}

			b = openTest(t, dir, opts)
			defer b.Close()
			m, err := b.Lookup(ctx, k(2), backend.LookupOptions{})
			require.NoError(t, err)
			require.Equal(t, later.UnixNano(), m.Expire.UnixNano(), "expiry kept to the nanosecond")
			_, _, err = b.Read(ctx, k(3), 0, 0)
			require.ErrorIs(t, err, status.ErrNotFound, "upload still invisible")
			_, err = b.Write(ctx, &backend.WriteRequest{Key: k(3), Data: []byte("cd"), Offset: 2, Commit: true, TotalSize: 4})
			require.NoError(t, err, "upload resumes after the restart")
			data, _, err := b.Read(ctx, k(3), 0, 0)
			require.NoError(t, err)
			require.Equal(t, "abcd", string(data))

			time.Sleep(time.Until(soon) + 10*time.Millisecond)
			_, _, err = b.Read(ctx, k(1), 0, 0)
			require.ErrorIs(t, err, status.ErrNotFound, "expired after the restart")
		})
	}
}

// TestDefragDropsExpired: defragmentation reclaims the space of expired
// values and uploads past their deadline, also in a file with no other dead
// record, and forgets them in the index.
func TestDefragDropsExpired(t *testing.T) {
	dir := t.TempDir()
	opts := Options{BlobSize: 4 << 10, Sync: SyncNone}
	b := openTest(t, dir, opts)
	defer func() { b.Close() }()
	soon := time.Now().Add(200 * time.Millisecond)
	big := make([]byte, 1000)
	for i := range 40 {
		req := &backend.WriteRequest{Key: k(i), Data: big}
		switch i % 4 {
		case 0:
			req.Expire = soon
		case 1:
			req.Prepare, req.TotalSize, req.Expire = true, 1000, soon
		}
		_, err := b.Write(ctx, req)
		require.NoError(t, err)
	}
	write(t, b, k(1000), []byte("rotate")) // the last file is active: not defragmented
	before := b.Stats()
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	st := defragAndWait(t, b)
	require.Positive(t, st.Reclaimed)
	after := b.Stats()
	require.Less(t, after.Records, before.Records, "expired records leave the index")
	for i := range 40 {
		_, _, err := b.Read(ctx, k(i), 0, 0)
		if i%4 < 2 {
			require.ErrorIs(t, err, status.ErrNotFound, "key %d", i)
		} else {
			require.NoError(t, err, "key %d", i)
		}
	}
	// A restart from the snapshot and from a full scan agree.
	require.NoError(t, b.Close())
	b = openTest(t, dir, opts)
	require.Equal(t, after.Records, b.Stats().Records)
	require.NoError(t, b.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, snapshotName)))
	b = openTest(t, dir, opts)
	require.Equal(t, after.Records, b.Stats().Records)
}

// TestReadsVersion1Records: records written before on-disk TTL (version 1)
// are read, their expiry field ignored.
func TestReadsVersion1Records(t *testing.T) {
	hdr := header{id: k(7).ID, column: "c", timestamp: 42, dataSize: 3, diskSize: 3, expire: 123}
	buf := make([]byte, headerSize+1)
	hdr.encode(buf)
	buf[4] = recordVer1
	binary.LittleEndian.PutUint64(buf[120:], 0xdead) // garbage in the old reserved field
	d := xxhash.New()
	d.Write(buf[:128])
	d.Write(buf[headerSize:])
	binary.LittleEndian.PutUint64(buf[128:], d.Sum64())
	got, err := decodeHeader(buf)
	require.NoError(t, err)
	require.Zero(t, got.expire, "version 1 has no expiry")
	require.True(t, got.visible(time.Now()))
}
