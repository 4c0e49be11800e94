package s3

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const exampleAuthHeader = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"

// fuzzAuth runs authenticate and the bucket/key split on a request and
// reads its (wrapped) body: a bad request is refused, never a panic; an
// accepted one with a forged signature would be a bug the vectors catch.
func fuzzAuth(t *testing.T, h *handler, target, auth, date, sha string) {
	if strings.ContainsAny(target, " \r\n\t") || !strings.HasPrefix(target, "/") {
		return
	}
	r, err := newFuzzRequest(target)
	if err != nil {
		return
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	r.Header.Set("x-amz-date", date)
	r.Header.Set("x-amz-content-sha256", sha)
	r.Header.Set("Range", "bytes=0-9")
	_, _ = h.split(r)
	if err := h.authenticate(r, h.opts.Now()); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			t.Fatalf("authenticate returned %v, not an S3 error", err)
		}
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
}

func newFuzzRequest(target string) (r *http.Request, err error) {
	defer func() {
		if recover() != nil { // httptest.NewRequest panics on a bad target
			r, err = nil, io.ErrUnexpectedEOF
		}
	}()
	return httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com"+target, strings.NewReader("body")), nil
}

// FuzzSigV4Header: the Authorization header (SigV4 and V2), its date and
// payload hash.
func FuzzSigV4Header(f *testing.F) {
	f.Add("/test.txt", exampleAuthHeader, "20130524T000000Z", emptySHA256)
	f.Add("/test.txt", "AWS4-HMAC-SHA256 Credential=/,SignedHeaders=,Signature=", "x", "UNSIGNED-PAYLOAD")
	f.Add("/b/k", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=", "", streamingUnsigned)
	f.Add("/b/k", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00", "20130524T000000Z", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
	h := exampleHandler()
	f.Fuzz(func(t *testing.T, target, auth, date, sha string) { fuzzAuth(t, h, target, auth, date, sha) })
}

// FuzzPresigned: presigned URLs (SigV4 X-Amz-* and V2 Signature/Expires
// query parameters).
func FuzzPresigned(f *testing.F) {
	f.Add("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
	f.Add("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=-1&X-Amz-Date=0")
	f.Add("/b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1141889120&Signature=vjbyPxybdZaNmGa%2ByT272YEAiv4%3D")
	f.Add("/b/k?Signature=&Expires=99999999999999999999")
	h := exampleHandler()
	f.Fuzz(func(t *testing.T, target string) { fuzzAuth(t, h, target, "", "", "") })
}
