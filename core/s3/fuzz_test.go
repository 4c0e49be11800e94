package s3

import (
	"io"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// FuzzChunkedBody: no aws-chunked body, however malformed, panics the
// decoder or makes it return more than the declared length.
func FuzzChunkedBody(f *testing.F) {
	f.Add("5\r\nhello\r\n0\r\n\r\n", 5)
	f.Add("ffffffffffffffff\r\nx", 3)
	f.Add("5;chunk-signature=00\r\nhello\r\n", 5)
	f.Fuzz(func(t *testing.T, body string, n int) {
		if n < 0 || n > 1<<20 {
			return
		}
		r := httptest.NewRequest("PUT", "http://h/b/k", strings.NewReader(body))
		r.Header.Set("x-amz-decoded-content-length", strconv.Itoa(n))
		if err := wrapPayload(r, streamingUnsigned, nil); err != nil {
			return
		}
		got, _ := io.ReadAll(r.Body)
		if len(got) > n {
			t.Fatalf("read %d bytes of a %d-byte body", len(got), n)
		}
	})
}

// FuzzRange: parseRange never panics and stays inside the object.
func FuzzRange(f *testing.F) {
	f.Add("bytes=0-9", int64(100))
	f.Add("bytes=-5", int64(3))
	f.Add("bytes=5-", int64(0))
	f.Fuzz(func(t *testing.T, v string, size int64) {
		if size < 0 {
			return
		}
		s, e, ok, err := parseRange(v, size)
		if ok && err == nil && (s < 0 || e >= size || s > e) {
			t.Fatalf("range %q of %d: %d-%d", v, size, s, e)
		}
	})
}
