package mem_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
	"github.com/elliptics/elliptics/core/backend/mem"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/stretchr/testify/require"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
}

const benchKeys = 1024

func benchKey(i uint64) backend.Key {
	var o id.ID
	o[0], o[1] = byte(i), byte(i>>8)
	return backend.Key{ID: o}
}

func BenchmarkWrite1K(b *testing.B) {
	be := mem.New()
	defer be.Close()
	data := make([]byte, 1024)
	var n atomic.Uint64
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			req := &backend.WriteRequest{Key: benchKey(n.Add(1) % benchKeys), Data: data}
			if _, err := be.Write(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRead1K(b *testing.B) {
	be := mem.New()
	defer be.Close()
	ctx := context.Background()
	data := make([]byte, 1024)
	for i := uint64(0); i < benchKeys; i++ {
		if _, err := be.Write(ctx, &backend.WriteRequest{Key: benchKey(i), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Uint64
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			got, _, err := be.Read(ctx, benchKey(n.Add(1)%benchKeys), 0, 0)
			if err != nil || len(got) != len(data) {
				b.Errorf("read: %d bytes, %v", len(got), err)
				return
			}
		}
	})
}

func TestHugeOffsetRefused(t *testing.T) {
	b := mem.New()
	defer b.Close()
	req := &backend.WriteRequest{Key: backend.Key{ID: id.Max}, Data: []byte("x"), Offset: 1 << 50}
	_, err := b.Write(context.Background(), req)
	require.ErrorIs(t, err, status.ErrTooLarge)
	req.Offset = ^uint64(0)
	_, err = b.Write(context.Background(), req)
	require.ErrorIs(t, err, status.ErrInvalid)
}
