package s3

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The examples of AWS's "Signature Calculations for the Authorization
// Header" and "Query String Authentication" pages for S3.
const (
	exampleAK     = "AKIAIOSFODNN7EXAMPLE"
	exampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func exampleHandler() *handler {
	o := Options{Credentials: map[string]string{exampleAK: exampleSecret}, BaseDomain: "s3.amazonaws.com",
		Now: func() time.Time { return time.Date(2013, 5, 24, 0, 1, 0, 0, time.UTC) }}
	o.defaults()
	return &handler{opts: o, roots: newRootCache(4), slots: make(chan struct{}, 4)}
}

func TestSigV4HeaderGetVector(t *testing.T) {
	h := exampleHandler()
	r := httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	r.Header.Set("Range", "bytes=0-9")
	r.Header.Set("x-amz-content-sha256", emptySHA256)
	r.Header.Set("x-amz-date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	b, k := h.split(r)
	require.Equal(t, "examplebucket", b)
	require.Equal(t, "test.txt", k)

	r.Header.Set("Range", "bytes=0-10")
	err := h.authenticate(r, h.opts.Now())
	require.Equal(t, "SignatureDoesNotMatch", asAPIError(err).Code)
	require.Equal(t, 403, asAPIError(err).Status)
}

func TestSigV4HeaderPutVector(t *testing.T) {
	h := exampleHandler()
	body := "Welcome to Amazon S3."
	r := httptest.NewRequest("PUT", "http://examplebucket.s3.amazonaws.com/test$file.text", strings.NewReader(body))
	r.Header.Set("Date", "Fri, 24 May 2013 00:00:00 GMT")
	r.Header.Set("x-amz-date", "20130524T000000Z")
	r.Header.Set("x-amz-storage-class", "REDUCED_REDUNDANCY")
	r.Header.Set("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	buf := make([]byte, 100)
	n, _ := readAll(r.Body, buf)
	require.Equal(t, body, string(buf[:n]))

	// The same request with another body fails its payload hash at the end.
	r2 := r.Clone(r.Context())
	r2.Body = http.NoBody
	r2.Body = httptest.NewRequest("PUT", "/", strings.NewReader("Welcome to Amazon S4.")).Body
	r2.ContentLength = int64(len(body))
	require.NoError(t, h.authenticate(r2, h.opts.Now()))
	_, err := readAll(r2.Body, buf)
	require.Equal(t, "XAmzContentSHA256Mismatch", asAPIError(err).Code)
}

func readAll(r interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	n := 0
	for {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			if err.Error() == "EOF" {
				return n, nil
			}
			return n, err
		}
	}
}

func TestSigV4PresignedVector(t *testing.T) {
	h := exampleHandler()
	url := "http://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
	r := httptest.NewRequest("GET", url, nil)
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	// Expired a day later.
	err := h.authenticate(r, time.Date(2013, 5, 25, 0, 0, 1, 0, time.UTC))
	require.Equal(t, "AccessDenied", asAPIError(err).Code)
	// Tampered.
	r = httptest.NewRequest("GET", strings.Replace(url, "test.txt", "test2.txt", 1), nil)
	require.Equal(t, "SignatureDoesNotMatch", asAPIError(h.authenticate(r, h.opts.Now())).Code)
}

func TestSigV4Rejects(t *testing.T) {
	h := exampleHandler()
	r := httptest.NewRequest("GET", "http://examplebucket.s3.amazonaws.com/test.txt", nil)
	require.Equal(t, "AccessDenied", asAPIError(h.authenticate(r, h.opts.Now())).Code)
	r.Header.Set("x-amz-date", "20130524T000000Z")
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=NOPE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00")
	require.Equal(t, "InvalidAccessKeyId", asAPIError(h.authenticate(r, h.opts.Now())).Code)
	err := h.authenticate(r, time.Date(2013, 5, 25, 0, 0, 0, 0, time.UTC))
	require.Contains(t, []string{"RequestTimeTooSkewed", "InvalidAccessKeyId"}, asAPIError(err).Code)
}
