package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/server/clustertest"
)

const (
	testAK     = "testkey"
	testSecret = "testsecret"
)

// testServer runs the handler over an in-process cluster.
type testServer struct {
	t    *testing.T
	srv  *httptest.Server
	h    *handler
	sess *client.Session
}

func startServer(t *testing.T, nodes, groups int, tune func(*Options)) *testServer {
	t.Helper()
	ctx := context.Background()
	c, err := clustertest.Start(clustertest.Options{Nodes: nodes, Groups: groups})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	require.NoError(t, c.WaitConverged(ctx))
	cl, err := c.Client(ctx, client.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { cl.Close() })
	sess := client.NewSession(cl)
	o := Options{Credentials: map[string]string{testAK: testSecret}, MinPartSize: 1, Chunk: 64 << 10, Logf: t.Logf}
	if tune != nil {
		tune(&o)
	}
	h := New(sess, o).(*handler)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testServer{t: t, srv: srv, h: h, sess: sess}
}

// sign signs r (SigV4, header form) with the payload hash given
// ("" = the SHA-256 of body).
func sign(r *http.Request, body []byte, payload string) {
	now := time.Now().UTC()
	date := now.Format(amzDateFormat)
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	r.Header.Set("X-Amz-Date", date)
	r.Header.Set("X-Amz-Content-Sha256", payload)
	scope := now.Format("20060102") + "/us-east-1/s3/aws4_request"
	signed := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	creq := canonicalRequest(r, r.URL.Query(), signed, payload, "")
	sig := hex.EncodeToString(hmacSHA256(signingKey(testSecret, scope), stringToSign(date, scope, creq)))
	r.Header.Set("Authorization", fmt.Sprintf("%s Credential=%s/%s,SignedHeaders=%s,Signature=%s",
		sigAlgorithm, testAK, scope, strings.Join(signed, ";"), sig))
}

// do sends a signed request and returns the status, headers and body.
func (s *testServer) do(method, path string, body []byte, hdr ...string) (int, http.Header, string) {
	s.t.Helper()
	r, err := http.NewRequest(method, s.srv.URL+path, bytes.NewReader(body))
	require.NoError(s.t, err)
	if body == nil {
		r.Body, r.ContentLength = http.NoBody, 0
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			r.Host = hdr[i+1]
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	sign(r, body, "")
	resp, err := http.DefaultClient.Do(r)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// must is do that expects a status.
func (s *testServer) must(code int, method, path string, body []byte, hdr ...string) (http.Header, string) {
	s.t.Helper()
	got, h, b := s.do(method, path, body, hdr...)
	require.Equal(s.t, code, got, "%s %s: %s", method, path, b)
	return h, b
}

func (s *testServer) doUnsigned(method, path string) (int, http.Header, string) {
	s.t.Helper()
	r, err := http.NewRequest(method, s.srv.URL+path, nil)
	require.NoError(s.t, err)
	resp, err := http.DefaultClient.Do(r)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}
