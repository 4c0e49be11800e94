package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
)

// NonceSize is the length of each side's random challenge.
const NonceSize = 32

// ProofSize is the length of a proof (HMAC-SHA256).
const ProofSize = sha256.Size

// MinSecretLen is the shortest secret accepted by configuration.
const MinSecretLen = 16

// label opens every proof's message: a proof made for anything else (or a
// later version of this exchange) never verifies here.
const label = "elliptics-auth-v1"

// Kind is what a connection authenticates as.
type Kind uint8

const (
	// KindPeer proves the cluster secret: a node of the cluster.
	KindPeer Kind = 1
	// KindClient proves a client key.
	KindClient Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindPeer:
		return "peer"
	case KindClient:
		return "client"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// Role is the side a proof is made by; it is bound into the proof, so the
// node's answer cannot be reflected back as the client's.
type Role uint8

const (
	RoleClient Role = 1
	RoleServer Role = 2
)

// Nonce returns NonceSize random bytes.
func Nonce() ([NonceSize]byte, error) {
	var n [NonceSize]byte
	if _, err := rand.Read(n[:]); err != nil {
		return n, fmt.Errorf("auth: nonce: %w", err)
	}
	return n, nil
}

// Proof is HMAC-SHA256(secret, label || role || kind || u16 len(keyID) ||
// keyID || clientNonce || serverNonce).
func Proof(secret []byte, role Role, kind Kind, keyID string, clientNonce, serverNonce [NonceSize]byte) [ProofSize]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	var b [4]byte
	b[0] = byte(role)
	b[1] = byte(kind)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(keyID)))
	m.Write(b[:])
	m.Write([]byte(keyID))
	m.Write(clientNonce[:])
	m.Write(serverNonce[:])
	var p [ProofSize]byte
	copy(p[:], m.Sum(nil))
	return p
}

// Verify reports whether got is the proof of role for these inputs; the
// comparison takes constant time (hmac.Equal).
func Verify(secret []byte, role Role, kind Kind, keyID string, clientNonce, serverNonce [NonceSize]byte, got []byte) bool {
	want := Proof(secret, role, kind, keyID, clientNonce, serverNonce)
	return hmac.Equal(want[:], got)
}

// Perm is a set of permissions.
type Perm uint8

const (
	Read Perm = 1 << iota
	Write
	Admin

	// All is every permission (peers).
	All = Read | Write | Admin
)

var permNames = []struct {
	p    Perm
	name string
}{{Read, "read"}, {Write, "write"}, {Admin, "admin"}}

// Has reports whether every permission of q is in p.
func (p Perm) Has(q Perm) bool { return p&q == q }

func (p Perm) String() string {
	var s []string
	for _, n := range permNames {
		if p&n.p != 0 {
			s = append(s, n.name)
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}

// ParsePerms parses a list of permission names ("read", "write", "admin").
func ParsePerms(names []string) (Perm, error) {
	var p Perm
next:
	for _, name := range names {
		for _, n := range permNames {
			if strings.EqualFold(strings.TrimSpace(name), n.name) {
				p |= n.p
				continue next
			}
		}
		return 0, fmt.Errorf("%w %q (want read, write or admin)", ErrUnknownPermission, name)
	}
	return p, nil
}

// Key is a client key: an ID sent in the clear, a secret that is not, and
// what the key may do.
type Key struct {
	ID     string
	Secret string
	Perms  Perm
}

// Keyring looks keys up by ID. Its zero value holds no key; it is not
// changed after NewKeyring, so lookups need no lock.
type Keyring struct {
	keys map[string]Key
}

// NewKeyring builds a keyring, refusing empty or duplicate IDs and secrets
// shorter than MinSecretLen.
func NewKeyring(keys []Key) (*Keyring, error) {
	r := &Keyring{keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if k.ID == "" {
			return nil, fmt.Errorf("auth: key with an empty id")
		}
		if len(k.ID) > MaxKeyIDLen {
			return nil, fmt.Errorf("auth: key id %q longer than %d bytes", k.ID, MaxKeyIDLen)
		}
		if _, dup := r.keys[k.ID]; dup {
			return nil, fmt.Errorf("auth: key id %q used twice", k.ID)
		}
		if len(k.Secret) < MinSecretLen {
			return nil, fmt.Errorf("%w: key %q: secret shorter than %d bytes", ErrWeakSecret, k.ID, MinSecretLen)
		}
		r.keys[k.ID] = k
	}
	return r, nil
}

// Lookup returns the key with this ID.
func (r *Keyring) Lookup(id string) (Key, bool) {
	if r == nil {
		return Key{}, false
	}
	k, ok := r.keys[id]
	return k, ok
}

// Len is the number of keys.
func (r *Keyring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}

// MaxKeyIDLen bounds a key ID (it travels in a str16 limited to this).
const MaxKeyIDLen = 255

// scriptLabel separates script signatures from connection proofs.
const scriptLabel = "elliptics-script-v1"

// SignScript returns the signature of a stored script's version: an
// HMAC-SHA256 with the signer's secret over its name, version and source.
// Nodes that authenticate run only scripts signed by an admin key (or the
// cluster secret), so write permission on the scripts' keys is not enough
// to make the nodes run code.
func SignScript(secret []byte, name string, version uint64, source []byte) [sha256.Size]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(scriptLabel))
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(name)))
	m.Write(n[:])
	m.Write([]byte(name))
	binary.LittleEndian.PutUint64(n[:], version)
	m.Write(n[:])
	m.Write(source)
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// VerifyScript checks a script signature in constant time.
func VerifyScript(secret []byte, name string, version uint64, source, sig []byte) bool {
	want := SignScript(secret, name, version, source)
	return hmac.Equal(want[:], sig)
}
