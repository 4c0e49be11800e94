package recovery

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSlotsFIFO(t *testing.T) {
	s := newSlots(1)
	first := s.ask()
	require.True(t, s.wait(context.Background(), first))
	second, third := s.ask(), s.ask()
	select {
	case <-second:
		t.Fatal("granted a slot beyond the limit")
	default:
	}
	s.release()
	require.True(t, s.wait(context.Background(), second))
	select {
	case <-third:
		t.Fatal("the third waiter overtook")
	default:
	}
	s.release()
	require.True(t, s.wait(context.Background(), third))
	s.release()
	require.Equal(t, 1, s.free)
}

func TestSlotsCancel(t *testing.T) {
	s := newSlots(1)
	held := s.ask()
	require.True(t, s.wait(context.Background(), held))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	gone, next := s.ask(), s.ask()
	require.False(t, s.wait(ctx, gone))
	s.release()
	// The withdrawn waiter does not swallow the slot.
	require.True(t, s.wait(context.Background(), next))
	s.release()
	require.Equal(t, 1, s.free)
}
