package s3

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 2, which boto3 still uses by default for presigned
// URLs (AWSAccessKeyId, Expires and Signature query parameters) and old
// clients for the "AWS AK:signature" header.

// v2Subresources are the query parameters that are part of the signed
// resource.
var v2Subresources = map[string]bool{"acl": true, "delete": true, "lifecycle": true, "location": true,
	"logging": true, "notification": true, "partNumber": true, "policy": true, "requestPayment": true,
	"tagging": true, "torrent": true, "uploadId": true, "uploads": true, "versionId": true,
	"versioning": true, "versions": true, "website": true, "cors": true, "restore": true,
	"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	"response-content-language": true, "response-content-type": true, "response-expires": true}

func (h *handler) stringToSignV2(r *http.Request, date string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n")
	var amz []string
	for k := range r.Header {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-") {
			amz = append(amz, lk)
		}
	}
	sort.Strings(amz)
	for _, k := range amz {
		b.WriteString(k + ":" + strings.Join(r.Header.Values(k), ",") + "\n")
	}
	bucket, _ := h.split(r)
	path := r.URL.EscapedPath()
	if !strings.HasPrefix(strings.TrimPrefix(path, "/"), bucket) {
		path = "/" + bucket + path
	}
	b.WriteString(path)
	q := r.URL.Query()
	var subs []string
	for k := range q {
		if v2Subresources[k] {
			subs = append(subs, k)
		}
	}
	sort.Strings(subs)
	for i, k := range subs {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		b.WriteString(sep + k)
		if v := q.Get(k); v != "" {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

func (h *handler) checkV2(r *http.Request, ak, sig, date string) error {
	secret, ok := h.opts.Credentials[ak]
	if !ok {
		return errorf("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records.")
	}
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(h.stringToSignV2(r, date)))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return errSignature()
	}
	return nil
}

// authPresignedV2 checks a SigV2 query-string signature.
func (h *handler) authPresignedV2(r *http.Request, now time.Time) error {
	q := r.URL.Query()
	exp, err := strconv.ParseInt(q.Get("Expires"), 10, 64)
	if err != nil {
		return errAccessDenied()
	}
	if now.Unix() > exp {
		return errorf("AccessDenied", 403, "Request has expired")
	}
	return h.checkV2(r, q.Get("AWSAccessKeyId"), q.Get("Signature"), q.Get("Expires"))
}

// authHeaderV2 checks an "AWS AK:signature" header.
func (h *handler) authHeaderV2(r *http.Request, auth string, now time.Time) error {
	ak, sig, ok := strings.Cut(strings.TrimPrefix(auth, "AWS "), ":")
	if !ok {
		return errorf("AuthorizationHeaderMalformed", 400, "The authorization header is malformed.")
	}
	date := r.Header.Get("Date")
	t, err := http.ParseTime(r.Header.Get("Date"))
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		date = ""
		t, err = http.ParseTime(v)
	}
	if err != nil {
		return errorf("AccessDenied", 403, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return errorf("RequestTimeTooSkewed", 403, "The difference between the request time and the current time is too large.")
	}
	return h.checkV2(r, ak, sig, date)
}
