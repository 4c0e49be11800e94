package status

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCodesMapOneToOne(t *testing.T) {
	seen := map[error]Code{}
	for _, c := range Codes() {
		if c == OK {
			require.NoError(t, c.Err())
			continue
		}
		err := c.Err()
		require.Error(t, err)
		require.Equal(t, c, FromError(err), "round trip of %v", c)
		_, dup := seen[err]
		require.False(t, dup, "two codes share a sentinel")
		seen[err] = c
		require.NotContains(t, c.String(), "status ", "code %d has no name", c)
	}
}

func TestErrorsIs(t *testing.T) {
	err := fmt.Errorf("read key: %w", Errorf(NotFound, "key %s", "x"))
	require.ErrorIs(t, err, ErrNotFound)
	require.NotErrorIs(t, err, ErrTimeout)
	require.Equal(t, NotFound, FromError(err))
	require.Contains(t, err.Error(), "key x: not found (-2)")
}

func TestFromError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Code
	}{
		{nil, OK},
		{context.DeadlineExceeded, Timeout},
		{context.Canceled, Canceled},
		{&os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, NoSpace},
		{os.ErrNotExist, NotFound},
		{errors.New("boom"), IOError},
	} {
		require.Equal(t, tc.want, FromError(tc.err), "%v", tc.err)
	}
}

func TestUnknownCodeKept(t *testing.T) {
	err := Code(-1000).Err()
	require.Equal(t, Code(-1000), FromError(err))
}

func TestMessage(t *testing.T) {
	require.Equal(t, "key x", Message(Errorf(NotFound, "key x")))
	require.Equal(t, "read: key x", Message(fmt.Errorf("read: %w", Errorf(NotFound, "key x"))))
	require.Equal(t, "read", Message(fmt.Errorf("read: %w", ErrNotFound)))
	require.Equal(t, "boom", Message(errors.New("boom")))
	require.Equal(t, "", Message(ErrNotFound))
}
