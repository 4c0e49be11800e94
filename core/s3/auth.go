package s3

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 (header and presigned-URL forms), as S3 checks it.
// https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html

const (
	sigAlgorithm      = "AWS4-HMAC-SHA256"
	unsignedPayload   = "UNSIGNED-PAYLOAD"
	streamingPayload  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingTrailer  = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsigned = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	amzDateFormat     = "20060102T150405Z"
	maxClockSkew      = 15 * time.Minute
	maxPresignExpires = 7 * 24 * 3600
	emptySHA256       = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// authInfo is what a verified request was signed with.
type authInfo struct {
	accessKey string
	date      time.Time
	scope     string // date/region/s3/aws4_request
	signature string
	key       []byte // the signing key
}

// authenticate checks the request's SigV4 signature and wraps its body so
// that a signed payload hash or aws-chunked signatures are checked as it is
// read. A request with no credentials at all is AccessDenied.
func (h *handler) authenticate(r *http.Request, now time.Time) error {
	if h.opts.Anonymous && r.Header.Get("Authorization") == "" && r.URL.Query().Get("X-Amz-Signature") == "" && r.URL.Query().Get("Signature") == "" {
		return nil
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		return h.authHeader(r, auth, now)
	}
	if r.URL.Query().Get("X-Amz-Algorithm") != "" {
		return h.authPresigned(r, now)
	}
	if r.URL.Query().Get("Signature") != "" {
		return h.authPresignedV2(r, now)
	}
	return errAccessDenied()
}

// parseCredential splits "AK/20130524/us-east-1/s3/aws4_request".
func (h *handler) parseCredential(cred string) (ak, scope string, secret string, err error) {
	ak, scope, ok := strings.Cut(cred, "/")
	parts := strings.Split(scope, "/")
	if !ok || len(parts) != 4 || parts[2] != "s3" || parts[3] != "aws4_request" {
		return "", "", "", errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".")
	}
	if parts[1] != h.opts.Region {
		return "", "", "", errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; the region '%s' is wrong; expecting '%s'", parts[1], h.opts.Region)
	}
	secret, ok = h.opts.Credentials[ak]
	if !ok {
		return "", "", "", errorf("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
	}
	return ak, scope, secret, nil
}

func (h *handler) authHeader(r *http.Request, auth string, now time.Time) error {
	rest, ok := strings.CutPrefix(auth, sigAlgorithm+" ")
	if !ok {
		if strings.HasPrefix(auth, "AWS ") {
			return h.authHeaderV2(r, auth, now)
		}
		return errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	cred, signed, sig := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if cred == "" || signed == "" || sig == "" {
		return errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
	}
	ak, scope, secret, err := h.parseCredential(cred)
	if err != nil {
		return err
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		amzDate = r.Header.Get("Date")
	}
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return errorf("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return errorf("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.")
	}
	if !strings.HasPrefix(scope, t.Format("20060102")+"/") {
		return errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; the date in the credential scope does not match x-amz-date.")
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		// S3 requires it; some clients omit it for requests without a body.
		payload = emptySHA256
	}
	signedHeaders := strings.Split(signed, ";")
	creq := canonicalRequest(r, r.URL.Query(), signedHeaders, payload, "")
	key := signingKey(secret, scope)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate, scope, creq)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		e := errSignature()
		e.err = fmt.Errorf("canonical request:\n%s", creq)
		return e
	}
	info := &authInfo{accessKey: ak, date: t, scope: scope, signature: sig, key: key}
	return wrapPayload(r, payload, info)
}

func (h *handler) authPresigned(r *http.Request, now time.Time) error {
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != sigAlgorithm {
		return errorf("AuthorizationQueryParametersError", 400, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
	}
	_, scope, secret, err := h.parseCredential(q.Get("X-Amz-Credential"))
	if err != nil {
		return err
	}
	amzDate := q.Get("X-Amz-Date")
	t, err := time.Parse(amzDateFormat, amzDate)
	if err != nil {
		return errorf("AuthorizationQueryParametersError", 400, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || exp < 0 || exp > maxPresignExpires {
		return errorf("AuthorizationQueryParametersError", 400, "X-Amz-Expires must be a number of seconds between 0 and 604800")
	}
	if now.Before(t.Add(-maxClockSkew)) {
		return errorf("AccessDenied", 403, "Request is not valid yet")
	}
	if now.After(t.Add(time.Duration(exp) * time.Second)) {
		return errorf("AccessDenied", 403, "Request has expired")
	}
	if !strings.HasPrefix(scope, t.Format("20060102")+"/") {
		return errorf("AuthorizationQueryParametersError", 400, "The date in the credential scope does not match X-Amz-Date.")
	}
	payload := q.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = unsignedPayload
	}
	creq := canonicalRequest(r, q, strings.Split(q.Get("X-Amz-SignedHeaders"), ";"), payload, "X-Amz-Signature")
	key := signingKey(secret, scope)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign(amzDate, scope, creq)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("X-Amz-Signature"))) != 1 {
		e := errSignature()
		e.err = fmt.Errorf("canonical request:\n%s", creq)
		return e
	}
	if payload != unsignedPayload {
		return wrapPayload(r, payload, nil)
	}
	return nil
}

// canonicalRequest builds SigV4's canonical request.
func canonicalRequest(r *http.Request, q url.Values, signedHeaders []string, payload, skipQuery string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r))
	b.WriteByte('\n')
	type kv struct{ k, v string }
	var pairs []kv
	for k, vs := range q {
		if k == skipQuery {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, kv{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		b.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// canonicalURI is the path with each segment decoded and encoded again as
// SigV4 does (so an encoded slash inside a key stays encoded).
func canonicalURI(r *http.Request) string {
	segs := strings.Split(r.URL.EscapedPath(), "/")
	for i, s := range segs {
		if d, err := url.PathUnescape(s); err == nil {
			s = d
		}
		segs[i] = uriEncode(s, true)
	}
	p := strings.Join(segs, "/")
	if p == "" {
		return "/"
	}
	return p
}

// headerValue is a header's canonical value: values joined by commas,
// trimmed, inner runs of spaces collapsed.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = r.Header.Values("Content-Length")
		if len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

// uriEncode encodes s as SigV4 does: everything but unreserved characters,
// and '/' too when encodeSlash.
func uriEncode(s string, encodeSlash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	return b.String()
}

func stringToSign(amzDate, scope, creq string) string {
	sum := sha256.Sum256([]byte(creq))
	return sigAlgorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives SigV4's key for a scope "date/region/service/aws4_request".
func signingKey(secret, scope string) []byte {
	k := []byte("AWS4" + secret)
	for _, p := range strings.Split(scope, "/") {
		k = hmacSHA256(k, p)
	}
	return k
}

// wrapPayload makes the body check what the signature covers: a hex
// SHA-256 of the body, or aws-chunked framing with per-chunk signatures.
func wrapPayload(r *http.Request, payload string, info *authInfo) error {
	switch payload {
	case unsignedPayload:
		return nil
	case streamingPayload, streamingTrailer, streamingUnsigned:
		dl, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		if err != nil || dl < 0 {
			return errMissingLength()
		}
		if payload == streamingUnsigned {
			info = nil
		} else if info == nil {
			return errorf("InvalidRequest", 400, "streaming payloads need header authentication")
		}
		cr := &chunkedReader{r: bufio.NewReaderSize(r.Body, 4096), body: r.Body, left: dl, info: info,
			prev: signatureOf(info)}
		if payload != streamingPayload {
			name := strings.ToLower(strings.TrimSpace(r.Header.Get("X-Amz-Trailer")))
			if f, ok := trailerChecksums[name]; ok {
				cr.sumName, cr.sum = name, f()
			}
		}
		r.Body = cr
		r.ContentLength = dl
		return nil
	}
	want, err := hex.DecodeString(payload)
	if err != nil || len(want) != sha256.Size {
		return errorf("InvalidArgument", 400, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid sha256 value.")
	}
	if r.Body == nil || r.Body == http.NoBody {
		if payload != emptySHA256 {
			return errorf("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		return nil
	}
	r.Body = &hashReader{body: r.Body, h: sha256.New(), want: want, left: r.ContentLength}
	return nil
}

func signatureOf(info *authInfo) string {
	if info == nil {
		return ""
	}
	return info.signature
}

// hashReader checks the SHA-256 of a body: the read that returns its last
// byte (by Content-Length) fails if the hash is wrong, so a consumer that
// stops at the length still sees the error before it commits anything.
type hashReader struct {
	body io.ReadCloser
	h    hash.Hash
	want []byte
	left int64 // -1: unknown length, checked at EOF
	done bool
}

func (hr *hashReader) Read(p []byte) (int, error) {
	if hr.done {
		return 0, io.EOF
	}
	if hr.left >= 0 && int64(len(p)) > hr.left {
		p = p[:hr.left]
	}
	n, err := hr.body.Read(p)
	hr.h.Write(p[:n])
	if hr.left >= 0 {
		hr.left -= int64(n)
		if hr.left == 0 {
			err = io.EOF
		}
	}
	if err == io.EOF {
		hr.done = true
		if !hmac.Equal(hr.h.Sum(nil), hr.want) {
			return 0, errorf("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
		}
		if n > 0 {
			return n, nil
		}
	}
	return n, err
}

func (hr *hashReader) Close() error { return hr.body.Close() }

// chunkedReader decodes an aws-chunked body ("hex-size;chunk-signature=sig
// CRLF data CRLF" ... a zero-size chunk, optional trailers), checking each
// chunk's signature when signed. It holds back the last byte of every
// chunk until that chunk's signature (and, for the last data chunk, the
// final chunk) has been checked, so no consumer sees the end of a body
// that fails verification.
type chunkedReader struct {
	r       *bufio.Reader
	body    io.Closer
	info    *authInfo
	prev    string    // previous signature
	sumName string    // the trailing checksum announced (x-amz-trailer), if known
	sum     hash.Hash // computes it over the decoded body
	left    int64     // decoded bytes not yet returned
	chunk   int64     // bytes left in the current chunk
	sig     string
	h       hash.Hash
	err     error
}

// trailerChecksums are the trailing checksums of aws-chunked bodies that
// are checked (base64 of the big-endian digest).
var trailerChecksums = map[string]func() hash.Hash{
	"x-amz-checksum-crc32":  func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c": func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"x-amz-checksum-sha1":   sha1.New,
	"x-amz-checksum-sha256": sha256.New,
}

func (c *chunkedReader) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		if err == bufio.ErrBufferFull {
			return "", errorf("IncompleteBody", 400, "chunk header too long")
		}
		return "", errorf("IncompleteBody", 400, "The request body terminated unexpectedly")
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// nextChunk reads a chunk header.
func (c *chunkedReader) nextChunk() error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	size, ext, _ := strings.Cut(line, ";")
	n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
	if err != nil || n < 0 {
		return errorf("InvalidChunkSizeError", 400, "bad aws-chunked size %q", size)
	}
	c.sig = strings.TrimPrefix(ext, "chunk-signature=")
	c.chunk = n
	c.h = sha256.New()
	if c.info != nil && c.sig == "" {
		return errSignature()
	}
	return nil
}

// endChunk checks the signature of the chunk just read (and its CRLF).
func (c *chunkedReader) endChunk(n int64) error {
	if n > 0 {
		if _, err := c.readLine(); err != nil {
			return err
		}
	}
	if c.info == nil {
		return nil
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.info.date.Format(amzDateFormat) + "\n" + c.info.scope + "\n" +
		c.prev + "\n" + emptySHA256 + "\n" + hex.EncodeToString(c.h.Sum(nil))
	want := hex.EncodeToString(hmacSHA256(c.info.key, sts))
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.sig)) != 1 {
		return errSignature()
	}
	c.prev = want
	return nil
}

// finish reads the final zero-size chunk and the trailers.
func (c *chunkedReader) finish() error {
	if err := c.nextChunk(); err != nil {
		return err
	}
	if c.chunk != 0 {
		return errorf("IncompleteBody", 400, "more data than x-amz-decoded-content-length")
	}
	if err := c.endChunk(0); err != nil {
		return err
	}
	// Trailers (x-amz-checksum-*, x-amz-trailer-signature) end with an
	// empty line; the announced checksum is checked (the trailer
	// signature is not). Without trailers the body ends with the final
	// chunk's CRLF.
	seen := false
	for i := 0; i < 64; i++ {
		line, err := c.readLine()
		if err != nil || line == "" {
			break
		}
		name, val, _ := strings.Cut(line, ":")
		if c.sum != nil && strings.EqualFold(strings.TrimSpace(name), c.sumName) {
			seen = true
			if base64.StdEncoding.EncodeToString(c.sum.Sum(nil)) != strings.TrimSpace(val) {
				return errorf("BadDigest", 400, "The %s you specified did not match the calculated checksum.", c.sumName)
			}
		}
	}
	if c.sum != nil && !seen {
		return errorf("MalformedTrailerError", 400, "The request contained trailing data that was not well-formed or did not conform to our published schema.")
	}
	return nil
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if c.left == 0 {
		return 0, io.EOF
	}
	if c.chunk == 0 {
		if err := c.nextChunk(); err != nil {
			c.err = err
			return 0, err
		}
		if c.chunk == 0 || c.chunk > c.left {
			c.err = errorf("IncompleteBody", 400, "aws-chunked sizes do not add up to x-amz-decoded-content-length")
			return 0, c.err
		}
	}
	// Hold back the chunk's last byte until it is verified.
	want := min(int64(len(p)), c.chunk-1)
	if want == 0 {
		want = 1
	}
	n, err := c.r.Read(p[:want])
	c.h.Write(p[:n])
	if c.sum != nil {
		c.sum.Write(p[:n])
	}
	c.chunk -= int64(n)
	c.left -= int64(n)
	if n == 0 && err != nil {
		c.err = errorf("IncompleteBody", 400, "The request body terminated unexpectedly")
		return 0, c.err
	}
	if c.chunk == 0 {
		if err := c.endChunk(1); err != nil {
			c.err = err
			return 0, err
		}
		if c.left == 0 {
			if err := c.finish(); err != nil {
				c.err = err
				return 0, err
			}
		}
	}
	return n, nil
}

func (c *chunkedReader) Close() error { return c.body.Close() }
