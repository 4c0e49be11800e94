package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/elliptics/elliptics/core/status"
)

// apiError is an S3 error: its code, HTTP status and message, written as
// S3's XML error document.
type apiError struct {
	Code    string
	Status  int
	Message string
	extra   []extraElem // more elements of the error document
	err     error       // the cause, for logs
}

// extraElem is an element of an error document beyond Code and Message
// (Key, BucketName, UploadId, ActualObjectSize, ...).
type extraElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

func (e *apiError) with(name, value string) *apiError {
	e.extra = append(e.extra, extraElem{XMLName: xml.Name{Local: name}, Value: value})
	return e
}

func (e *apiError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.err)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.err }

func errorf(code string, st int, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: st, Message: fmt.Sprintf(format, args...)}
}

var (
	errAccessDenied   = func() *apiError { return errorf("AccessDenied", 403, "Access Denied") }
	errNoSuchBucket   = func() *apiError { return errorf("NoSuchBucket", 404, "The specified bucket does not exist") }
	errNoSuchKey      = func() *apiError { return errorf("NoSuchKey", 404, "The specified key does not exist.") }
	errNoSuchUpload   = func() *apiError { return errorf("NoSuchUpload", 404, "The specified upload does not exist.") }
	errBucketNotEmpty = func() *apiError { return errorf("BucketNotEmpty", 409, "The bucket you tried to delete is not empty") }
	errBucketExists   = func() *apiError {
		return errorf("BucketAlreadyOwnedByYou", 409, "Your previous request to create the named bucket succeeded and you already own it.")
	}
	errInvalidBucketName = func() *apiError { return errorf("InvalidBucketName", 400, "The specified bucket is not valid.") }
	errKeyTooLong        = func() *apiError { return errorf("KeyTooLongError", 400, "Your key is too long") }
	errMalformedXML      = func() *apiError {
		return errorf("MalformedXML", 400, "The XML you provided was not well-formed or did not validate against our published schema.")
	}
	errInvalidRange = func() *apiError { return errorf("InvalidRange", 416, "The requested range is not satisfiable") }
	errInvalidPart  = func() *apiError {
		return errorf("InvalidPart", 400, "One or more of the specified parts could not be found.")
	}
	errInvalidPartOrder = func() *apiError {
		return errorf("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
	}
	errEntityTooLarge = func() *apiError {
		return errorf("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size")
	}
	errMissingLength = func() *apiError {
		return errorf("MissingContentLength", 411, "You must provide the Content-Length HTTP header.")
	}
	errSignature = func() *apiError {
		return errorf("SignatureDoesNotMatch", 403, "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
	}
)

func errNotImplemented(what string) *apiError {
	return errorf("NotImplemented", 501, "A header or query you provided implies functionality that is not implemented: %s", what)
}

func errInvalidArgument(format string, args ...any) *apiError {
	return errorf("InvalidArgument", 400, format, args...)
}

func errInternal(err error) *apiError {
	e := errorf("InternalError", 500, "We encountered an internal error. Please try again.")
	e.err = err
	if errors.Is(err, status.ErrTimeout) || errors.Is(err, status.ErrNoRoute) || errors.Is(err, status.ErrOverloaded) {
		e.Code, e.Status, e.Message = "ServiceUnavailable", 503, "Please reduce your request rate."
	}
	return e
}

// asAPIError turns any error into an S3 error.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	return errInternal(err)
}

type errorDoc struct {
	XMLName   xml.Name    `xml:"Error"`
	Code      string      `xml:"Code"`
	Message   string      `xml:"Message"`
	Extra     []extraElem `xml:",any"`
	RequestID string      `xml:"RequestId"`
	HostID    string      `xml:"HostId"`
}

// writeError answers with err as S3's XML error (no body for HEAD).
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae := asAPIError(err)
	if ae.Status >= 500 && h.opts.Logf != nil {
		h.opts.Logf("s3: %s %s: %v", r.Method, r.URL.Path, err)
	}
	w.Header().Set("Content-Type", "application/xml")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(ae.Status)
		return
	}
	extra := ae.extra
	bucket, key := h.split(r)
	switch ae.Code {
	case "NoSuchKey", "KeyTooLongError":
		extra = append(extra, extraElem{XMLName: xml.Name{Local: "Key"}, Value: key})
	case "NoSuchBucket", "BucketNotEmpty", "BucketAlreadyOwnedByYou", "InvalidBucketName":
		extra = append(extra, extraElem{XMLName: xml.Name{Local: "BucketName"}, Value: bucket})
	case "NoSuchUpload":
		extra = append(extra, extraElem{XMLName: xml.Name{Local: "UploadId"}, Value: r.URL.Query().Get("uploadId")})
	}
	body, _ := xml.Marshal(errorDoc{Code: ae.Code, Message: ae.Message, Extra: extra,
		RequestID: w.Header().Get("x-amz-request-id"), HostID: "elliptics"})
	body = append([]byte(xml.Header), body...)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.Status)
	_, _ = w.Write(body)
}

// writeXML answers 200 with v as XML.
func writeXML(w http.ResponseWriter, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	// S3 writes quotes (of ETags) as &quot;, encoding/xml as &#34;.
	body = append([]byte(xml.Header), bytes.ReplaceAll(body, []byte("&#34;"), []byte("&quot;"))...)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(200)
	_, _ = w.Write(body)
}
