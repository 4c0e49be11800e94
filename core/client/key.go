package client

import (
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
)

// Key names an object: a string that the session's ID model turns into an ID
// (within its namespace), or a raw ID used as is.
type Key struct {
	Name   string
	ID     id.ID
	Raw    bool   // use ID as is
	Column string // "" = default column
}

// NewKey returns the key of a name.
func NewKey(name string) Key { return Key{Name: name} }

// RawKey returns a key that is already an ID.
func RawKey(oid id.ID) Key { return Key{ID: oid, Raw: true} }

// WithColumn returns the key addressing one column of the object.
func (k Key) WithColumn(column string) Key { k.Column = column; return k }

func (k Key) String() string {
	if k.Raw {
		return k.ID.Short()
	}
	return k.Name
}

// resolve returns the ID of k in the session's namespace.
func (s *Session) resolve(k Key) (id.ID, error) {
	if k.Raw {
		return k.ID, nil
	}
	if k.Name == "" {
		return id.ID{}, status.Errorf(status.Invalid, "empty key")
	}
	return s.model.ID([]byte(s.namespace), []byte(k.Name))
}
