// Package id defines the 64-byte object IDs that place every object on the
// ring, and the models that turn user keys into IDs.
//
// The default model is the original Elliptics one: ID = SHA-512(key), or
// SHA-512(namespace + "\x00" + key) when a namespace is set, so the same key in
// two namespaces never maps to the same ID. Callers with their own placement
// scheme implement Model.
package id

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Size is the length of an ID in bytes (DNET_ID_SIZE in the original).
const Size = 64

// ID is a point on the ring. IDs compare as big-endian unsigned integers.
type ID [Size]byte

// ErrEmptyKey is returned when a key of zero length is given to a model.
var ErrEmptyKey = errors.New("id: empty key")

// Zero is the smallest ID; Max the largest.
var (
	Zero ID
	Max  = func() (m ID) {
		for i := range m {
			m[i] = 0xff
		}
		return m
	}()
)

// Compare returns -1, 0 or +1 as a is less than, equal to or greater than b.
func (a ID) Compare(b ID) int { return bytes.Compare(a[:], b[:]) }

// Less reports whether a sorts before b.
func (a ID) Less(b ID) bool { return a.Compare(b) < 0 }

// IsZero reports whether every byte of the ID is zero.
func (a ID) IsZero() bool { return a == Zero }

// String returns the full lower-case hex form of the ID.
func (a ID) String() string { return hex.EncodeToString(a[:]) }

// Short returns the first 6 bytes in hex, the form used in logs.
func (a ID) Short() string { return hex.EncodeToString(a[:6]) }

// Next returns x+1, wrapping id.Max around to Zero.
func (a ID) Next() ID {
	for i := len(a) - 1; i >= 0; i-- {
		a[i]++
		if a[i] != 0 {
			break
		}
	}
	return a
}

// Prev returns x-1, wrapping Zero around to id.Max.
func (a ID) Prev() ID {
	for i := len(a) - 1; i >= 0; i-- {
		a[i]--
		if a[i] != 0xff {
			break
		}
	}
	return a
}

// MarshalText encodes the ID as 128 hex digits (JSON, TOML).
func (a ID) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText decodes hex as Parse does.
func (a *ID) UnmarshalText(b []byte) error {
	x, err := Parse(string(b))
	if err != nil {
		return err
	}
	*a = x
	return nil
}

// Parse decodes a hex ID. Shorter input is accepted and zero-padded on the
// right, as the original's `-I id` tools did, so "ab" names the ID ab00..00.
func Parse(s string) (ID, error) {
	var out ID
	s = strings.TrimSpace(s)
	if s == "" {
		return out, fmt.Errorf("id: parse %q: %w", s, ErrEmptyKey)
	}
	if len(s) > 2*Size {
		return out, fmt.Errorf("id: parse: %d hex digits, at most %d allowed", len(s), 2*Size)
	}
	if len(s)%2 == 1 {
		s += "0"
	}
	if _, err := hex.Decode(out[:], []byte(s)); err != nil {
		return ID{}, fmt.Errorf("id: parse %q: %w", s, err)
	}
	return out, nil
}

// FromBytes copies b into an ID; b must be exactly Size bytes long.
func FromBytes(b []byte) (ID, error) {
	var out ID
	if len(b) != Size {
		return out, fmt.Errorf("id: %d bytes, want %d", len(b), Size)
	}
	copy(out[:], b)
	return out, nil
}

// Model maps a user key within a namespace to an ID.
type Model interface {
	ID(namespace, key []byte) (ID, error)
}

// ModelFunc adapts a function to Model.
type ModelFunc func(namespace, key []byte) (ID, error)

// ID calls f.
func (f ModelFunc) ID(namespace, key []byte) (ID, error) { return f(namespace, key) }

// SHA512 is the default model.
var SHA512 Model = ModelFunc(sha512Model)

func sha512Model(namespace, key []byte) (ID, error) {
	if len(key) == 0 {
		return ID{}, ErrEmptyKey
	}
	h := sha512.New()
	if len(namespace) > 0 {
		h.Write(namespace)
		h.Write([]byte{0})
	}
	h.Write(key)
	var out ID
	h.Sum(out[:0])
	return out, nil
}

// FromKey returns the default ID of key within namespace.
func FromKey(namespace, key string) (ID, error) {
	return SHA512.ID([]byte(namespace), []byte(key))
}

// Transform returns SHA-512 of data, the original's session.transform: the
// checksum clients pass as the "old checksum" of a compare-and-swap write.
func Transform(data []byte) ID { return sha512.Sum512(data) }
