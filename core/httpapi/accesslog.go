package httpapi

import (
	"net/http"
	"time"

	"go.uber.org/zap"
)

// loggedWriter records what a reply was, for the access log. Unwrap lets
// http.ResponseController reach the connection (deadlines, flushes).
type loggedWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *loggedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggedWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *loggedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logged serves r with next and logs it at debug level: one line per
// request, with its status, size and duration. Skipped entirely when debug
// is off, so the API pays nothing for it then.
func (h *Handler) logged(w http.ResponseWriter, r *http.Request, next func(http.ResponseWriter, *http.Request)) {
	if !h.opts.Logger.Core().Enabled(zap.DebugLevel) {
		next(w, r)
		return
	}
	start := time.Now()
	lw := &loggedWriter{ResponseWriter: w}
	next(lw, r)
	h.opts.Logger.Debug("http request", zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.String("query", r.URL.RawQuery), zap.String("remote", r.RemoteAddr), zap.Int("status", lw.code),
		zap.Int64("request_bytes", r.ContentLength), zap.Int64("reply_bytes", lw.bytes),
		zap.Duration("duration", time.Since(start)))
}
