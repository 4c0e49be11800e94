package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// TestWriteFromCASNeedsWholeUpload: a compare-and-swap is checked by an
// upload's prepare; a write at an offset has none, so it is refused before
// anything is sent.
func TestWriteFromCASNeedsWholeUpload(t *testing.T) {
	n := client.NewNode(client.Config{})
	defer n.Close()
	s := client.NewSession(n)
	_, err := s.WriteFrom(context.Background(), client.NewKey("k"), strings.NewReader("abc"), 3,
		client.StreamOptions{Offset: 5, CAS: &id.ID{}})
	require.ErrorIs(t, err, status.ErrInvalid)
}
