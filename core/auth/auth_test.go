package auth

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/status"
)

func nonces(t *testing.T) ([NonceSize]byte, [NonceSize]byte) {
	t.Helper()
	a, err := Nonce()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Nonce()
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two nonces are equal")
	}
	return a, b
}

func TestProofVerifies(t *testing.T) {
	cn, sn := nonces(t)
	secret := []byte("0123456789abcdef")
	p := Proof(secret, RoleClient, KindClient, "k1", cn, sn)
	if !Verify(secret, RoleClient, KindClient, "k1", cn, sn, p[:]) {
		t.Fatal("a proof does not verify")
	}
	if Verify(secret, RoleClient, KindClient, "k1", cn, sn, p[:ProofSize-1]) {
		t.Fatal("a truncated proof verifies")
	}
	if Verify(secret, RoleClient, KindClient, "k1", cn, sn, nil) {
		t.Fatal("an empty proof verifies")
	}
}

// Every input is bound into the proof: change any and it fails.
func TestProofBindsEveryInput(t *testing.T) {
	cn, sn := nonces(t)
	secret := []byte("0123456789abcdef")
	p := Proof(secret, RoleClient, KindClient, "k1", cn, sn)
	flip := func(n [NonceSize]byte) [NonceSize]byte { n[7] ^= 1; return n }
	cases := map[string]bool{
		"wrong secret":        Verify([]byte("0123456789abcdeX"), RoleClient, KindClient, "k1", cn, sn, p[:]),
		"server role":         Verify(secret, RoleServer, KindClient, "k1", cn, sn, p[:]),
		"peer kind":           Verify(secret, RoleClient, KindPeer, "k1", cn, sn, p[:]),
		"other key id":        Verify(secret, RoleClient, KindClient, "k2", cn, sn, p[:]),
		"swapped nonces":      Verify(secret, RoleClient, KindClient, "k1", sn, cn, p[:]),
		"other client nonce":  Verify(secret, RoleClient, KindClient, "k1", flip(cn), sn, p[:]),
		"other server nonce":  Verify(secret, RoleClient, KindClient, "k1", cn, flip(sn), p[:]),
		"key id moved to tag": Verify(secret, RoleClient, KindClient, "k", cn, sn, p[:]),
	}
	for name, ok := range cases {
		if ok {
			t.Errorf("%s: proof still verifies", name)
		}
	}
	// The node's proof is not the client's (no reflection).
	sp := Proof(secret, RoleServer, KindClient, "k1", cn, sn)
	if sp == p {
		t.Fatal("server and client proofs are equal")
	}
}

// Verify compares with hmac.Equal (constant time), not bytes.Equal or ==.
func TestVerifyConstantTime(t *testing.T) {
	src, err := os.ReadFile("auth.go")
	if err != nil {
		t.Fatal(err)
	}
	body := string(src)
	i := strings.Index(body, "func Verify(")
	if i < 0 {
		t.Fatal("no Verify")
	}
	fn := body[i:]
	fn = fn[:strings.Index(fn, "\n}\n")]
	if !strings.Contains(fn, "hmac.Equal(") || strings.Contains(fn, "bytes.Equal") || strings.Contains(fn, "==") {
		t.Fatalf("Verify does not compare with hmac.Equal only:\n%s", fn)
	}
}

func TestParsePerms(t *testing.T) {
	p, err := ParsePerms([]string{"read", "Write"})
	if err != nil || p != Read|Write || !p.Has(Read) || p.Has(Admin) {
		t.Fatalf("got %v %v", p, err)
	}
	if p, err := ParsePerms(nil); err != nil || p != 0 || p.String() != "none" {
		t.Fatalf("empty: %v %v", p, err)
	}
	if _, err := ParsePerms([]string{"root"}); !errors.Is(err, ErrUnknownPermission) {
		t.Fatalf("unknown permission: %v", err)
	}
	if All.String() != "read,write,admin" {
		t.Fatal(All.String())
	}
}

func TestKeyring(t *testing.T) {
	r, err := NewKeyring([]Key{{ID: "a", Secret: "0123456789abcdef", Perms: Read}})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Lookup("a"); !ok || k.Perms != Read {
		t.Fatal("key a not found")
	}
	if _, ok := r.Lookup("b"); ok {
		t.Fatal("unknown key found")
	}
	if _, err := NewKeyring([]Key{{ID: "a", Secret: "short"}}); !errors.Is(err, ErrWeakSecret) {
		t.Fatalf("short secret: %v", err)
	}
	if _, err := NewKeyring([]Key{{ID: "a", Secret: "0123456789abcdef"}, {ID: "a", Secret: "0123456789abcdef"}}); err == nil {
		t.Fatal("duplicate id accepted")
	}
	if _, err := NewKeyring([]Key{{ID: "", Secret: "0123456789abcdef"}}); err == nil {
		t.Fatal("empty id accepted")
	}
	var nilRing *Keyring
	if _, ok := nilRing.Lookup("a"); ok {
		t.Fatal("nil keyring found a key")
	}
}

func TestErrorsAreNotPermitted(t *testing.T) {
	for _, e := range []error{ErrUnknownKey, ErrBadProof, ErrServerProof, ErrUnauthenticated, ErrForbidden, ErrNotPeer} {
		if status.FromError(e) != status.NotPermitted {
			t.Errorf("%v: code %v", e, status.FromError(e))
		}
	}
}

func TestScriptSignature(t *testing.T) {
	secret := []byte("ops-secret-0123456789")
	sig := SignScript(secret, "s", 3, []byte("def f(): pass"))
	if !VerifyScript(secret, "s", 3, []byte("def f(): pass"), sig[:]) {
		t.Fatal("a signature does not verify")
	}
	for name, ok := range map[string]bool{
		"other secret":  VerifyScript([]byte("app-secret-0123456789"), "s", 3, []byte("def f(): pass"), sig[:]),
		"other name":    VerifyScript(secret, "t", 3, []byte("def f(): pass"), sig[:]),
		"other version": VerifyScript(secret, "s", 4, []byte("def f(): pass"), sig[:]),
		"other source":  VerifyScript(secret, "s", 3, []byte("def f(): fail()"), sig[:]),
		"short":         VerifyScript(secret, "s", 3, []byte("def f(): pass"), sig[:10]),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}
