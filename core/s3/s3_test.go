package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBucketsAndObjects(t *testing.T) {
	s := startServer(t, 4, 2, nil)
	s.must(404, "HEAD", "/bk1", nil)
	s.must(200, "PUT", "/bk1", nil)
	s.must(409, "PUT", "/bk1", nil)
	s.must(400, "PUT", "/B_bad", nil)
	s.must(200, "HEAD", "/bk1", nil)
	s.must(200, "PUT", "/bk2", nil)
	_, body := s.must(200, "GET", "/", nil)
	require.Contains(t, body, "<Name>bk1</Name>")
	require.Contains(t, body, "<Name>bk2</Name>")

	data := make([]byte, 300<<10) // several 64 KiB chunks
	rand.New(rand.NewSource(1)).Read(data)
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	h, _ := s.must(200, "PUT", "/bk1/dir/obj", data, "Content-Type", "text/plain", "x-amz-meta-color", "blue")
	require.Equal(t, etag, h.Get("ETag"))

	h, body = s.must(200, "GET", "/bk1/dir/obj", nil)
	require.Equal(t, string(data), body)
	require.Equal(t, etag, h.Get("ETag"))
	require.Equal(t, "text/plain", h.Get("Content-Type"))
	require.Equal(t, "blue", h.Get("x-amz-meta-color"), "%v", h)

	h, body = s.must(206, "GET", "/bk1/dir/obj", nil, "Range", "bytes=100000-200000")
	require.Equal(t, string(data[100000:200001]), body)
	require.Equal(t, fmt.Sprintf("bytes 100000-200000/%d", len(data)), h.Get("Content-Range"))
	_, body = s.must(206, "GET", "/bk1/dir/obj", nil, "Range", "bytes=-10")
	require.Equal(t, string(data[len(data)-10:]), body)
	_, body = s.must(416, "GET", "/bk1/dir/obj", nil, "Range", "bytes=999999999-")
	require.Contains(t, body, "<Code>InvalidRange</Code>")
	s.must(304, "GET", "/bk1/dir/obj", nil, "If-None-Match", etag)

	h, _ = s.must(200, "HEAD", "/bk1/dir/obj", nil)
	require.Equal(t, fmt.Sprint(len(data)), h.Get("Content-Length"))
	_, body = s.must(404, "GET", "/bk1/nope", nil)
	require.Contains(t, body, "<Code>NoSuchKey</Code>")
	_, body = s.must(404, "GET", "/nobucket/x", nil)
	require.Contains(t, body, "<Code>NoSuchBucket</Code>")

	// Empty object, overwrite.
	s.must(200, "PUT", "/bk1/empty", []byte{})
	h, body = s.must(200, "GET", "/bk1/empty", nil)
	require.Equal(t, "", body)
	require.Equal(t, `"d41d8cd98f00b204e9800998ecf8427e"`, h.Get("ETag"))
	s.must(200, "PUT", "/bk1/empty", []byte("now full"))
	_, body = s.must(200, "GET", "/bk1/empty", nil)
	require.Equal(t, "now full", body)

	// Copy, across buckets, with metadata copied.
	_, body = s.must(200, "PUT", "/bk2/copy", nil, "x-amz-copy-source", "/bk1/dir/obj")
	require.Contains(t, body, "<CopyObjectResult")
	require.Contains(t, body, strings.ReplaceAll(etag, `"`, "&quot;"))
	h, body = s.must(200, "GET", "/bk2/copy", nil)
	require.Equal(t, string(data), body)
	require.Equal(t, "blue", h.Get("x-amz-meta-color"), "%v", h)

	s.must(409, "DELETE", "/bk1", nil)
	s.must(204, "DELETE", "/bk1/dir/obj", nil)
	s.must(204, "DELETE", "/bk1/dir/obj", nil)
	s.must(404, "GET", "/bk1/dir/obj", nil)

	_, body = s.must(200, "POST", "/bk1?delete", []byte(`<Delete><Object><Key>empty</Key></Object><Object><Key>ghost</Key></Object></Delete>`))
	require.Contains(t, body, "<Deleted><Key>empty</Key></Deleted>")
	s.must(204, "DELETE", "/bk1", nil)
	s.must(404, "HEAD", "/bk1", nil)
	// Made again, it is empty.
	s.must(200, "PUT", "/bk1", nil)
	_, body = s.must(200, "GET", "/bk1?list-type=2", nil)
	require.Contains(t, body, "<KeyCount>0</KeyCount>")

	// Unsupported operations and bad signatures.
	_, body = s.must(501, "GET", "/bk1?acl", nil)
	require.Contains(t, body, "<Code>NotImplemented</Code>")
	s.must(501, "PUT", "/bk1?versioning", []byte("<x/>"))
	got, _, body := s.doUnsigned("GET", "/bk1")
	require.Equal(t, 403, got)
	require.Contains(t, body, "<Code>AccessDenied</Code>")
}

func TestListing(t *testing.T) {
	s := startServer(t, 3, 1, func(o *Options) { o.PageSize = 8 })
	s.must(200, "PUT", "/lbk", nil)
	var keys []string
	for _, d := range []string{"a", "b", "c"} {
		for i := range 12 {
			keys = append(keys, fmt.Sprintf("%s/%02d", d, i))
		}
	}
	keys = append(keys, "top1", "top2")
	for _, i := range rand.Perm(len(keys)) {
		s.must(200, "PUT", "/lbk/"+keys[i], []byte(keys[i]))
	}
	// V2 pages of 5 return every key in order.
	var got []string
	tok := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 20)
		q := "/lbk?list-type=2&max-keys=5"
		if tok != "" {
			q += "&continuation-token=" + tok
		}
		_, body := s.must(200, "GET", q, nil)
		got = append(got, between(body, "<Key>", "</Key>")...)
		tok = first(between(body, "<NextContinuationToken>", "</NextContinuationToken>"))
		if !strings.Contains(body, "<IsTruncated>true</IsTruncated>") {
			break
		}
	}
	require.Equal(t, keys, got)

	// Delimiter: common prefixes count toward max-keys and page.
	_, body := s.must(200, "GET", "/lbk?list-type=2&delimiter=/&max-keys=2", nil)
	require.Equal(t, []string{"a/", "b/"}, between(body, "<Prefix>", "</Prefix>")[1:])
	tok = first(between(body, "<NextContinuationToken>", "</NextContinuationToken>"))
	_, body = s.must(200, "GET", "/lbk?list-type=2&delimiter=/&max-keys=2&continuation-token="+tok, nil)
	require.Equal(t, []string{"c/"}, between(body, "<Prefix>", "</Prefix>")[1:])
	require.Equal(t, []string{"top1"}, between(body, "<Key>", "</Key>"))

	// Prefix and start-after; V1 with marker.
	_, body = s.must(200, "GET", "/lbk?list-type=2&prefix=b/&start-after=b/09", nil)
	require.Equal(t, []string{"b/10", "b/11"}, between(body, "<Key>", "</Key>"))
	_, body = s.must(200, "GET", "/lbk?prefix=c/&marker=c/05&max-keys=3", nil)
	require.Equal(t, []string{"c/06", "c/07", "c/08"}, between(body, "<Key>", "</Key>"))
	require.Contains(t, body, "<IsTruncated>true</IsTruncated>")
	_, body = s.must(200, "GET", "/lbk?delimiter=/&marker=a/", nil)
	require.Equal(t, []string{"b/", "c/"}, between(body, "<Prefix>", "</Prefix>")[1:])

	// Deletes leave the listing consistent.
	for _, k := range keys[:30] {
		s.must(204, "DELETE", "/lbk/"+k, nil)
	}
	_, body = s.must(200, "GET", "/lbk?list-type=2", nil)
	require.Equal(t, keys[30:], between(body, "<Key>", "</Key>"))
}

func TestMultipart(t *testing.T) {
	s := startServer(t, 3, 2, nil)
	s.must(200, "PUT", "/mpb", nil)
	_, body := s.must(200, "POST", "/mpb/big?uploads", nil, "Content-Type", "video/mp4")
	id := first(between(body, "<UploadId>", "</UploadId>"))
	require.NotEmpty(t, id)
	_, body = s.must(200, "GET", "/mpb?uploads", nil)
	require.Contains(t, body, id)

	parts := [][]byte{bytes.Repeat([]byte("x"), 100<<10), bytes.Repeat([]byte("y"), 70<<10), []byte("tail")}
	var etags []string
	var md5s []byte
	for i, p := range parts {
		h, _ := s.must(200, "PUT", fmt.Sprintf("/mpb/big?partNumber=%d&uploadId=%s", i+1, id), p)
		etags = append(etags, h.Get("ETag"))
		sum := md5.Sum(p)
		md5s = append(md5s, sum[:]...)
	}
	// Part 2 again replaces it.
	parts[1] = bytes.Repeat([]byte("z"), 70<<10)
	h, _ := s.must(200, "PUT", fmt.Sprintf("/mpb/big?partNumber=2&uploadId=%s", id), parts[1])
	etags[1] = h.Get("ETag")
	sum := md5.Sum(parts[1])
	copy(md5s[16:32], sum[:])
	_, body = s.must(200, "GET", "/mpb/big?uploadId="+id, nil)
	require.Equal(t, []string{"1", "2", "3"}, between(body, "<PartNumber>", "</PartNumber>"))

	s.must(404, "PUT", "/mpb/big?partNumber=1&uploadId=nope", []byte("x"))
	var cx strings.Builder
	cx.WriteString("<CompleteMultipartUpload>")
	for i, e := range etags {
		fmt.Fprintf(&cx, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i+1, e)
	}
	cx.WriteString("</CompleteMultipartUpload>")
	_, body = s.must(200, "POST", "/mpb/big?uploadId="+id, []byte(cx.String()))
	all := md5.Sum(md5s)
	want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(all[:]))
	require.Contains(t, body, strings.ReplaceAll(want, `"`, "&quot;"))

	whole := bytes.Join(parts, nil)
	h, body = s.must(200, "GET", "/mpb/big", nil)
	require.Equal(t, want, h.Get("ETag"))
	require.Equal(t, "video/mp4", h.Get("Content-Type"))
	require.True(t, string(whole) == body)
	_, body = s.must(206, "GET", "/mpb/big", nil, "Range", fmt.Sprintf("bytes=%d-%d", 100<<10-5, 170<<10+1))
	require.True(t, string(whole[100<<10-5:170<<10+2]) == body)
	_, body = s.must(200, "GET", "/mpb?uploads", nil)
	require.NotContains(t, body, id)
	h, body = s.must(206, "GET", "/mpb/big?partNumber=2", nil)
	require.True(t, string(parts[1]) == body)
	require.Equal(t, "3", h.Get("x-amz-mp-parts-count"))
	s.must(416, "GET", "/mpb/big?partNumber=4", nil)

	// UploadPartCopy: parts cut from an existing object.
	_, body = s.must(200, "POST", "/mpb/pc?uploads", nil)
	id3 := first(between(body, "<UploadId>", "</UploadId>"))
	h, body = s.must(200, "PUT", "/mpb/pc?partNumber=1&uploadId="+id3, nil, "x-amz-copy-source", "/mpb/big", "x-amz-copy-source-range", "bytes=0-102399")
	require.Contains(t, body, "<CopyPartResult")
	e1 := h.Get("ETag")
	h, _ = s.must(200, "PUT", "/mpb/pc?partNumber=2&uploadId="+id3, nil, "x-amz-copy-source", "mpb/big", "x-amz-copy-source-range", fmt.Sprintf("bytes=%d-%d", 100<<10, len(whole)-1))
	e2 := h.Get("ETag")
	s.must(200, "POST", "/mpb/pc?uploadId="+id3, []byte(fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>%s</ETag></Part></CompleteMultipartUpload>", e1, e2)))
	_, body = s.must(200, "GET", "/mpb/pc", nil)
	require.True(t, string(whole) == body)
	s.must(204, "DELETE", "/mpb/pc", nil)

	// Abort.
	_, body = s.must(200, "POST", "/mpb/gone?uploads", nil)
	id2 := first(between(body, "<UploadId>", "</UploadId>"))
	s.must(200, "PUT", "/mpb/gone?partNumber=1&uploadId="+id2, []byte("abc"))
	_, body = s.must(200, "POST", "/mpb/sub/x?uploads", nil)
	id4 := first(between(body, "<UploadId>", "</UploadId>"))
	_, body = s.must(200, "GET", "/mpb?uploads&delimiter=/", nil)
	require.Equal(t, []string{"gone"}, between(body, "<Key>", "</Key>"))
	require.Contains(t, body, "<CommonPrefixes><Prefix>sub/</Prefix></CommonPrefixes>")
	s.must(204, "DELETE", "/mpb/sub/x?uploadId="+id4, nil)
	s.must(409, "DELETE", "/mpb", nil)
	s.must(204, "DELETE", "/mpb/gone?uploadId="+id2, nil)
	s.must(404, "GET", "/mpb/gone?uploadId="+id2, nil)
	s.must(204, "DELETE", "/mpb/big", nil)
	s.must(204, "DELETE", "/mpb", nil)
}

func between(s, a, b string) []string {
	var out []string
	for {
		i := strings.Index(s, a)
		if i < 0 {
			return out
		}
		s = s[i+len(a):]
		j := strings.Index(s, b)
		if j < 0 {
			return out
		}
		out = append(out, s[:j])
		s = s[j+len(b):]
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func TestVirtualHostStyle(t *testing.T) {
	s := startServer(t, 2, 1, func(o *Options) { o.BaseDomain = "s3.example.test" })
	s.must(200, "PUT", "/", nil, "Host", "vhost.s3.example.test")
	s.must(200, "PUT", "/a/b.txt", []byte("virtual"), "Host", "vhost.s3.example.test:8080")
	_, body := s.must(200, "GET", "/a/b.txt", nil, "Host", "vhost.s3.example.test")
	require.Equal(t, "virtual", body)
	// The same object path-style.
	_, body = s.must(200, "GET", "/vhost/a/b.txt", nil)
	require.Equal(t, "virtual", body)
	_, body = s.must(200, "GET", "/?list-type=2", nil, "Host", "vhost.s3.example.test")
	require.Equal(t, []string{"a/b.txt"}, between(body, "<Key>", "</Key>"))
}

// TestLimits: oversized bodies, keys and XML are refused without being
// stored or read whole.
func TestLimits(t *testing.T) {
	s := startServer(t, 2, 1, func(o *Options) { o.MaxObjectSize = 1000; o.MaxXMLBody = 200 })
	s.must(200, "PUT", "/lim", nil)
	_, body := s.must(400, "PUT", "/lim/big", make([]byte, 1001))
	require.Contains(t, body, "EntityTooLarge")
	_, body = s.must(400, "PUT", "/lim/"+strings.Repeat("k", 1025), []byte("x"))
	require.Contains(t, body, "KeyTooLongError")
	_, body = s.must(400, "POST", "/lim?delete", []byte("<Delete>"+strings.Repeat("<Object><Key>k</Key></Object>", 20)+"</Delete>"))
	require.Contains(t, body, "MaxMessageLengthExceeded")
	_, body = s.must(400, "POST", "/lim?delete", []byte("<Delete><Object>"))
	require.Contains(t, body, "MalformedXML")
	// Requests past MaxRequests are turned away.
	for range cap(s.h.slots) {
		s.h.slots <- struct{}{}
	}
	_, body = s.must(503, "GET", "/lim?list-type=2", nil)
	require.Contains(t, body, "SlowDown")
	for range cap(s.h.slots) {
		<-s.h.slots
	}
	// A wrong Content-MD5 stores nothing.
	_, body = s.must(400, "PUT", "/lim/md5", []byte("abc"), "Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==")
	require.Contains(t, body, "BadDigest")
	s.must(404, "GET", "/lim/md5", nil)
	_, body = s.must(200, "GET", "/lim?list-type=2", nil)
	require.Contains(t, body, "<KeyCount>0</KeyCount>")
}

// TestMultipartParallelParts uploads 40 parts at once to one upload, pages
// through ListParts and completes.
func TestMultipartParallelParts(t *testing.T) {
	s := startServer(t, 3, 2, nil)
	s.must(200, "PUT", "/par", nil)
	_, body := s.must(200, "POST", "/par/obj?uploads", nil)
	id := first(between(body, "<UploadId>", "</UploadId>"))
	const parts = 40
	etags := make([]string, parts+1)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for n := 1; n <= parts; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, h, _ := s.do("PUT", fmt.Sprintf("/par/obj?partNumber=%d&uploadId=%s", n, id), []byte(fmt.Sprintf("<%03d>", n)))
			if code != 200 {
				failed.Add(1)
			}
			etags[n] = h.Get("ETag")
		}()
	}
	wg.Wait()
	require.Zero(t, failed.Load())
	var listed []string
	marker := "0"
	for range parts {
		_, body := s.must(200, "GET", "/par/obj?max-parts=15&part-number-marker="+marker+"&uploadId="+id, nil)
		listed = append(listed, between(body, "<PartNumber>", "</PartNumber>")...)
		if !strings.Contains(body, "<IsTruncated>true</IsTruncated>") {
			break
		}
		marker = first(between(body, "<NextPartNumberMarker>", "</NextPartNumberMarker>"))
	}
	require.Len(t, listed, parts)
	var cx, want strings.Builder
	cx.WriteString("<CompleteMultipartUpload>")
	for n := 1; n <= parts; n++ {
		fmt.Fprintf(&cx, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", n, etags[n])
		fmt.Fprintf(&want, "<%03d>", n)
	}
	cx.WriteString("</CompleteMultipartUpload>")
	s.must(200, "POST", "/par/obj?uploadId="+id, []byte(cx.String()))
	_, body = s.must(200, "GET", "/par/obj", nil)
	require.Equal(t, want.String(), body)
	s.must(404, "GET", "/par/obj?uploadId="+id, nil)
}
