package blob

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/backendtest"
)

func openTest(t *testing.T, dir string, opts Options) *Backend {
	t.Helper()
	b, err := Open(dir, opts)
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"sync-always", Options{}},
		{"sync-none-small-files", Options{Sync: SyncNone, BlobSize: 4096}},
		{"compressed", Options{Compress: true, Sync: SyncInterval}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backendtest.Run(t, func(t *testing.T) backend.Backend { return openTest(t, t.TempDir(), tc.opts) })
		})
	}
}
