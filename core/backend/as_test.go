package backend_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/backend/mem"
)

type wrapped struct{ backend.Backend }

func (w wrapped) Unwrap() backend.Backend { return w.Backend }

type opaque struct{ backend.Backend }

func TestAsSeesThroughWrappers(t *testing.T) {
	m := mem.New()
	_, ok := backend.As[backend.Digester](wrapped{wrapped{m}})
	require.True(t, ok, "two wrappers deep")
	_, ok = backend.As[backend.ColumnLister](wrapped{m})
	require.True(t, ok)
	_, ok = backend.As[backend.Digester](opaque{m})
	require.False(t, ok, "a backend that does not unwrap hides what it embeds")
	_, ok = backend.As[backend.Defragmenter](wrapped{m})
	require.False(t, ok, "mem does not defragment")
}
