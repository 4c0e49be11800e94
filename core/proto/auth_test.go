package proto

import (
	"strings"
	"testing"

	"github.com/elliptics/elliptics/core/status"
)

func TestAuthRequestRoundTripAndLengths(t *testing.T) {
	hello := AuthRequest{Step: AuthStepHello, Kind: AuthKindClient, KeyID: "key-1"}
	hello.Nonce[0], hello.Nonce[31] = 1, 2
	b := hello.Append(nil)
	if len(b) != 1+1+2+5+32 {
		t.Fatalf("hello is %d bytes", len(b))
	}
	got, err := DecodeAuthRequest(b)
	if err != nil || got != hello {
		t.Fatalf("hello: %+v %v", got, err)
	}
	proof := AuthRequest{Step: AuthStepProof}
	proof.Proof[5] = 9
	if b := proof.Append(nil); len(b) != 33 {
		t.Fatalf("proof is %d bytes", len(b))
	} else if got, err := DecodeAuthRequest(b); err != nil || got != proof {
		t.Fatalf("proof: %+v %v", got, err)
	}
	for name, tc := range map[string]struct {
		b    []byte
		want status.Code
	}{
		"empty":           {nil, status.Protocol},
		"short nonce":     {b[:len(b)-1], status.Protocol},
		"trailing byte":   {append(hello.Append(nil), 0), status.Protocol},
		"short proof":     {proof.Append(nil)[:32], status.Protocol},
		"unknown step":    {[]byte{3}, status.Invalid},
		"unknown kind":    {(&AuthRequest{Step: AuthStepHello, Kind: 9}).Append(nil), status.Invalid},
		"key id too long": {append([]byte{1, 2, 0, 1}, make([]byte, 256+32)...), status.TooLarge},
	} {
		if _, err := DecodeAuthRequest(tc.b); status.FromError(err) != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := DecodeAuthReply(make([]byte, 31)); err == nil {
		t.Fatal("short reply accepted")
	}
	if _, err := DecodeAuthReply(make([]byte, 33)); err == nil {
		t.Fatal("long reply accepted")
	}
	if CmdAuth.String() != "AUTH" || !strings.Contains(Cmd(16).String(), "AUTH") {
		t.Fatal(CmdAuth.String())
	}
}
