package s3

import (
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// prefixEnd returns the least string greater than every string with
// prefix p ("" when there is none).
func prefixEnd(p string) string {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return ""
	}
	b[len(b)-1]++
	return string(b)
}

type listedObject struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	Owner        *owner `xml:"Owner,omitempty"`
	StorageClass string `xml:"StorageClass"`
}

type commonPrefix struct {
	Prefix string `xml:"Prefix"`
}

type listResult struct {
	XMLName               xml.Name       `xml:"ListBucketResult"`
	NS                    string         `xml:"xmlns,attr"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	Marker                *string        `xml:"Marker,omitempty"`
	NextMarker            string         `xml:"NextMarker,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	KeyCount              *int           `xml:"KeyCount,omitempty"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []listedObject `xml:"Contents"`
	CommonPrefixes        []commonPrefix `xml:"CommonPrefixes"`
}

// listObjects serves ListObjects (version 1) and ListObjectsV2.
func (h *handler) listObjects(w http.ResponseWriter, r *http.Request, bucket string, version int) error {
	ctx := r.Context()
	q := r.URL.Query()
	b, err := h.bucket(ctx, bucket)
	if err != nil {
		return err
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	enc := q.Get("encoding-type")
	if enc != "" && enc != "url" {
		return errInvalidArgument("Invalid Encoding Method specified in Request")
	}
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errInvalidArgument("Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, 1000)
	}
	out := listResult{NS: s3XMLNS, Name: bucket, Prefix: prefix, MaxKeys: maxKeys, Delimiter: delim, EncodingType: enc}
	// from is the first key that may be listed.
	from := prefix
	after := func(k string) {
		// Start after k: past the whole common prefix if k is one.
		next := k + "\x00"
		if delim != "" && strings.HasPrefix(k, prefix) && strings.HasSuffix(k, delim) &&
			strings.Index(k[len(prefix):], delim) == len(k)-len(prefix)-len(delim) {
			if e := prefixEnd(k); e != "" {
				next = e
			}
		}
		if next > from {
			from = next
		}
	}
	if version == 2 {
		out.StartAfter = q.Get("start-after")
		if out.StartAfter != "" {
			after(out.StartAfter)
		}
		if tok := q.Get("continuation-token"); tok != "" {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil {
				return errInvalidArgument("The continuation token provided is incorrect")
			}
			out.ContinuationToken = tok
			from = string(raw)
		}
	} else {
		m := q.Get("marker")
		out.Marker = &m
		if m != "" {
			after(m)
		}
	}
	var last string
	lastIsPrefix := false
	count := 0
	if maxKeys > 0 {
		c, err := h.index(b).seek(ctx, from)
		if err != nil {
			return err
		}
		for {
			e, ok, err := c.next(ctx)
			if err != nil {
				return err
			}
			if !ok || !strings.HasPrefix(e.K, prefix) {
				break
			}
			if count == maxKeys {
				out.IsTruncated = true
				break
			}
			if delim != "" {
				if i := strings.Index(e.K[len(prefix):], delim); i >= 0 {
					cp := e.K[:len(prefix)+i+len(delim)]
					out.CommonPrefixes = append(out.CommonPrefixes, commonPrefix{Prefix: encodeKey(cp, enc)})
					count++
					last, lastIsPrefix = cp, true
					// Skip the rest of the common prefix with one seek.
					end := prefixEnd(cp)
					if end == "" {
						break
					}
					if err := c.seek(ctx, end); err != nil {
						return err
					}
					continue
				}
			}
			out.Contents = append(out.Contents, listedObject{Key: encodeKey(e.K, enc),
				LastModified: time.UnixMilli(e.T).UTC().Format(timeFormat), ETag: `"` + e.E + `"`, Size: e.S,
				StorageClass: "STANDARD"})
			count++
			last, lastIsPrefix = e.K, false
		}
	}
	if version == 2 {
		if q.Get("fetch-owner") == "true" {
			for i := range out.Contents {
				out.Contents[i].Owner = &owner{ID: "elliptics", DisplayName: "elliptics"}
			}
		}
		out.KeyCount = &count
		if out.IsTruncated {
			from = last + "\x00"
			if e := prefixEnd(last); lastIsPrefix && e != "" {
				from = e
			}
			out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(from))
		}
	} else {
		for i := range out.Contents {
			out.Contents[i].Owner = &owner{ID: "elliptics", DisplayName: "elliptics"}
		}
		if out.IsTruncated && delim != "" {
			out.NextMarker = last
		}
	}
	if enc == "url" {
		out.Prefix, out.Delimiter = encodeKey(out.Prefix, enc), encodeKey(out.Delimiter, enc)
		out.StartAfter, out.NextMarker = encodeKey(out.StartAfter, enc), encodeKey(out.NextMarker, enc)
		if out.Marker != nil {
			m := encodeKey(*out.Marker, enc)
			out.Marker = &m
		}
	}
	writeXML(w, out)
	return nil
}

func encodeKey(k, enc string) string {
	if enc == "url" {
		return strings.ReplaceAll(url.QueryEscape(k), "+", "%20")
	}
	return k
}
