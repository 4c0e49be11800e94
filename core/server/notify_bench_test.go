package server

import (
	"testing"
	"time"

	"github.com/elliptics/elliptics/core/backend"
	"github.com/elliptics/elliptics/core/notify"
)

// BenchmarkNotifyWrite is what every committed write pays for watches:
// with nothing watched, one atomic load (the event is not even built);
// with another key watched, a map lookup under a read lock.
func BenchmarkNotifyWrite(b *testing.B) {
	key := backend.Key{Column: "c"}
	key.ID[0] = 1
	meta := backend.Meta{Size: 10, Timestamp: time.Unix(1, 0)}
	for _, bc := range []struct {
		name    string
		watched bool
	}{{"nothing watched", false}, {"another key watched", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s := &Server{watches: notify.New(notify.Options{})}
			if bc.watched {
				var other notify.Key
				other.ID[0] = 2
				sub, _ := s.watches.Subscribe(other, 0)
				defer sub.Close()
			}
			b.ReportAllocs()
			for range b.N {
				s.notifyWrite(1, &key, &meta, 0)
			}
		})
	}
}
