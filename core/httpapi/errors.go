package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/elliptics/elliptics/core/status"
)

// errorBody is the JSON body of every error reply: Error is the message,
// Code the elliptics status code (a negative errno, as the protocol and the
// other bindings report it: -2 not found, -77 precondition failed, ...).
// Errors of the HTTP layer itself use the nearest code (-22 for a bad
// request, -90 for a body over the limit).
type errorBody struct {
	Error string `json:"error"`
	Code  int32  `json:"code"`
}

// httpStatus maps an error of the cluster to an HTTP status: what the
// caller can do about it decides (retry later, fix the request, give up).
func httpStatus(err error) int {
	if errors.Is(err, http.ErrBodyReadAfterClose) {
		return http.StatusBadRequest
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The client sent less than its Content-Length.
		return http.StatusBadRequest
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Only the connection to the client has such deadlines (the
		// cluster's timeouts are status.ErrTimeout): it stopped sending.
		return http.StatusRequestTimeout
	}
	switch status.FromError(err) {
	case status.NotFound:
		return http.StatusNotFound
	case status.Mismatch:
		return http.StatusPreconditionFailed
	case status.Exists:
		return http.StatusConflict
	case status.TooLarge:
		return http.StatusRequestEntityTooLarge
	case status.Invalid:
		return http.StatusBadRequest
	case status.NotPermitted:
		return http.StatusForbidden
	case status.ReadOnly:
		return http.StatusMethodNotAllowed
	case status.NoSpace:
		return http.StatusInsufficientStorage
	case status.NoRoute, status.Timeout, status.Overloaded, status.ConnectionLost, status.ShuttingDown:
		return http.StatusServiceUnavailable
	case status.Unsupported:
		return http.StatusNotImplemented
	case status.Canceled:
		// The client went away: nobody reads this reply (nginx's 499).
		return 499
	}
	return http.StatusInternalServerError
}

// statusCode is the elliptics code of err for the JSON body.
func statusCode(err error) status.Code {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return status.TooLarge
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return status.Invalid
	}
	return status.FromError(err)
}

// writeError answers with code and the JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, code int, sc status.Code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg, Code: int32(sc)})
}

// fail answers with the HTTP form of err.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, r, httpStatus(err), statusCode(err), err.Error())
}
