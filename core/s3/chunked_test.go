package s3

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// chunkedExample builds AWS's "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks" example:
// 66,560 bytes of 'a' in a 65,536-byte and a 1,024-byte chunk.
func chunkedExample(sigs [3]string) *bytes.Buffer {
	var b bytes.Buffer
	fmt.Fprintf(&b, "10000;chunk-signature=%s\r\n%s\r\n", sigs[0], strings.Repeat("a", 65536))
	fmt.Fprintf(&b, "400;chunk-signature=%s\r\n%s\r\n", sigs[1], strings.Repeat("a", 1024))
	fmt.Fprintf(&b, "0;chunk-signature=%s\r\n\r\n", sigs[2])
	return &b
}

var exampleChunkSigs = [3]string{
	"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
	"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
	"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
}

func chunkedRequest(body *bytes.Buffer) *http.Request {
	r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/chunkObject.txt", body)
	r.Header.Set("x-amz-date", "20130524T000000Z")
	r.Header.Set("x-amz-storage-class", "REDUCED_REDUNDANCY")
	r.Header.Set("Content-Encoding", "aws-chunked")
	r.Header.Set("x-amz-decoded-content-length", "66560")
	r.Header.Set("Content-Length", "66824")
	r.ContentLength = 66824
	r.Header.Set("x-amz-content-sha256", streamingPayload)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
	return r
}

func TestSigV4ChunkedVector(t *testing.T) {
	h := exampleHandler()
	h.opts.BaseDomain = ""
	r := chunkedRequest(chunkedExample(exampleChunkSigs))
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	require.Equal(t, int64(66560), r.ContentLength)
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, strings.Repeat("a", 66560), string(got))

	// A bad signature on the last data chunk: the reader fails before it
	// hands out the chunk's last byte, so a consumer never sees the whole
	// body.
	bad := exampleChunkSigs
	bad[1] = strings.Repeat("0", 64)
	r = chunkedRequest(chunkedExample(bad))
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	got, err = io.ReadAll(r.Body)
	require.Equal(t, "SignatureDoesNotMatch", asAPIError(err).Code)
	require.Less(t, len(got), 66560)

	// A tampered byte in the first chunk.
	body := chunkedExample(exampleChunkSigs)
	b := body.Bytes()
	b[100] = 'b'
	r = chunkedRequest(body)
	require.NoError(t, h.authenticate(r, h.opts.Now()))
	got, err = io.ReadAll(r.Body)
	require.Equal(t, "SignatureDoesNotMatch", asAPIError(err).Code)
	require.Less(t, len(got), 65536)
}

// TestUnsignedTrailerBody decodes STREAMING-UNSIGNED-PAYLOAD-TRAILER
// framing (what newer SDKs send with a trailing checksum over HTTPS).
func TestUnsignedTrailerBody(t *testing.T) {
	h := exampleHandler()
	body := "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"
	r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/x", strings.NewReader(body))
	r.Header.Set("x-amz-decoded-content-length", "11")
	require.NoError(t, wrapPayload(r, streamingUnsigned, nil))
	got, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	require.Equal(t, "hello world", string(got))
	_ = h

	// With the trailer announced, the CRC32 is checked: "hello world" is
	// DUoRhQ==.
	for sum, code := range map[string]string{"DUoRhQ==": "", "AAAAAA==": "BadDigest"} {
		body := "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:" + sum + "\r\n\r\n"
		r := httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/x", strings.NewReader(body))
		r.Header.Set("x-amz-decoded-content-length", "11")
		r.Header.Set("x-amz-trailer", "x-amz-checksum-crc32")
		require.NoError(t, wrapPayload(r, streamingUnsigned, nil))
		got, err := io.ReadAll(r.Body)
		if code == "" {
			require.NoError(t, err)
			require.Equal(t, "hello world", string(got))
		} else {
			require.Equal(t, code, asAPIError(err).Code)
			require.Less(t, len(got), 11)
		}
	}

	r = httptest.NewRequest("PUT", "http://s3.amazonaws.com/examplebucket/x", strings.NewReader("5\r\nhel"))
	r.Header.Set("x-amz-decoded-content-length", "5")
	require.NoError(t, wrapPayload(r, streamingUnsigned, nil))
	_, err = io.ReadAll(r.Body)
	require.Equal(t, "IncompleteBody", asAPIError(err).Code)
}
