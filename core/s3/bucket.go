package s3

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Buckets: a record per bucket under "bucket/<name>" in namespace "s3",
// and the sorted list of all buckets under "buckets" (updated by CAS). A
// bucket's ID (random, made at creation) names the namespaces of its
// objects, index and uploads, so a bucket deleted and made again starts
// empty.

const (
	nsRoot     = "s3"
	bucketList = "buckets"
	s3XMLNS    = "http://s3.amazonaws.com/doc/2006-03-01/"
	timeFormat = "2006-01-02T15:04:05.000Z"
)

type bucketRec struct {
	Name    string    `json:"name"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
}

func (b *bucketRec) metaNS() string   { return "s3m/" + b.ID }
func (b *bucketRec) dataNS() string   { return "s3d/" + b.ID }
func (b *bucketRec) indexNS() string  { return "s3i/" + b.ID }
func (b *bucketRec) uploadNS() string { return "s3u/" + b.ID }

// validBucketName checks S3's naming rules (3-63 characters of lower-case
// letters, digits, '.' and '-', starting and ending with a letter or digit).
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// bucket reads a bucket's record (NoSuchBucket when there is none).
func (h *handler) bucket(ctx context.Context, name string) (*bucketRec, error) {
	if !validBucketName(name) {
		return nil, errNoSuchBucket()
	}
	var b bucketRec
	found, err := readJSON(ctx, h.ns(nsRoot), "bucket/"+name, &b)
	if err != nil {
		return nil, err
	}
	if !found || b.ID == "" {
		return nil, errNoSuchBucket()
	}
	return &b, nil
}

func (h *handler) createBucket(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	if !validBucketName(name) {
		return errInvalidBucketName()
	}
	// The body, if any, is a CreateBucketConfiguration; its location must
	// be ours.
	body, err := io.ReadAll(io.LimitReader(r.Body, h.opts.MaxXMLBody))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var cfg struct {
			LocationConstraint string `xml:"LocationConstraint"`
		}
		if xml.Unmarshal(body, &cfg) != nil {
			return errMalformedXML()
		}
		if cfg.LocationConstraint != "" && cfg.LocationConstraint != h.opts.Region {
			return errorf("IllegalLocationConstraintException", 400, "The %s location constraint is incompatible for the region specific endpoint this request was sent to.", cfg.LocationConstraint)
		}
	}
	rec := bucketRec{Name: name, ID: randomID(12), Created: h.opts.Now().UTC()}
	err = casJSON(ctx, h.ns(nsRoot), "bucket/"+name, func(cur *bucketRec, found bool) error {
		if found && cur.ID != "" {
			return errBucketExists()
		}
		*cur = rec
		return nil
	})
	if err != nil {
		return err
	}
	err = casJSON(ctx, h.ns(nsRoot), bucketList, func(cur *[]bucketRec, _ bool) error {
		i, found := slices.BinarySearchFunc(*cur, name, func(b bucketRec, n string) int { return strings.Compare(b.Name, n) })
		if found {
			(*cur)[i] = rec
		} else {
			*cur = slices.Insert(*cur, i, rec)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/"+name)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(200)
	return nil
}

func (h *handler) headBucket(w http.ResponseWriter, r *http.Request, name string) error {
	if _, err := h.bucket(r.Context(), name); err != nil {
		return err
	}
	w.Header().Set("x-amz-bucket-region", h.opts.Region)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(200)
	return nil
}

func (h *handler) getLocation(w http.ResponseWriter, r *http.Request, name string) error {
	if _, err := h.bucket(r.Context(), name); err != nil {
		return err
	}
	loc := h.opts.Region
	if loc == "us-east-1" {
		loc = ""
	}
	writeXML(w, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		NS      string   `xml:"xmlns,attr"`
		Loc     string   `xml:",chardata"`
	}{NS: s3XMLNS, Loc: loc})
	return nil
}

func (h *handler) deleteBucket(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	b, err := h.bucket(ctx, name)
	if err != nil {
		return err
	}
	idx := h.index(b)
	empty, err := idx.empty(ctx)
	if err != nil {
		return err
	}
	var ups uploadList
	if _, err := readJSON(ctx, h.ns(b.uploadNS()), uploadListKey, &ups); err != nil {
		return err
	}
	if !empty || len(ups.Uploads) > 0 {
		return errBucketNotEmpty()
	}
	if err := remove(ctx, h.ns(nsRoot), "bucket/"+name); err != nil {
		return err
	}
	err = casJSON(ctx, h.ns(nsRoot), bucketList, func(cur *[]bucketRec, _ bool) error {
		*cur = slices.DeleteFunc(*cur, func(x bucketRec) bool { return x.Name == name })
		return nil
	})
	if err != nil {
		return err
	}
	if err := idx.drop(ctx); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func (h *handler) listBuckets(w http.ResponseWriter, r *http.Request) error {
	var list []bucketRec
	if _, err := readJSON(r.Context(), h.ns(nsRoot), bucketList, &list); err != nil {
		return err
	}
	type bucketXML struct {
		Name         string `xml:"Name"`
		CreationDate string `xml:"CreationDate"`
	}
	out := struct {
		XMLName xml.Name `xml:"ListAllMyBucketsResult"`
		NS      string   `xml:"xmlns,attr"`
		Owner   owner    `xml:"Owner"`
		Buckets struct {
			Bucket []bucketXML `xml:"Bucket"`
		} `xml:"Buckets"`
	}{NS: s3XMLNS, Owner: owner{ID: "elliptics", DisplayName: "elliptics"}}
	for _, b := range list {
		out.Buckets.Bucket = append(out.Buckets.Bucket, bucketXML{Name: b.Name, CreationDate: b.Created.Format(timeFormat)})
	}
	writeXML(w, out)
	return nil
}
