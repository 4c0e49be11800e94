package httpapi

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// byteRange is the part of an object a reply carries: length bytes from
// start.
type byteRange struct {
	start, length uint64
}

// errUnsatisfiable: the Range names no byte of the object, or is malformed
// (RFC 9110 §14.2: a server should answer both with 416).
var errUnsatisfiable = errors.New("range not satisfiable")

// parseRange reads a Range header against an object of size bytes. It
// returns ok=false when the whole object is to be sent: no header, a unit
// other than bytes, several ranges (RFC 9110 allows ignoring Range; a
// multipart/byteranges reply is not worth its cost here: clients that want
// several parts ask for them one by one), or an empty object asked for a
// suffix (nothing to cut). errUnsatisfiable means 416.
func parseRange(header string, size uint64) (byteRange, bool, error) {
	if header == "" {
		return byteRange{}, false, nil
	}
	unit, spec, found := strings.Cut(strings.TrimSpace(header), "=")
	if !found || !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return byteRange{}, false, nil
	}
	if strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, errUnsatisfiable
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// A suffix: the last n bytes.
		n, err := parseUint(last)
		if err != nil || n == 0 {
			return byteRange{}, false, errUnsatisfiable
		}
		if size == 0 {
			return byteRange{}, false, nil
		}
		n = min(n, size)
		return byteRange{start: size - n, length: n}, true, nil
	}
	start, err := parseUint(first)
	if err != nil {
		return byteRange{}, false, errUnsatisfiable
	}
	end := uint64(math.MaxUint64) // inclusive
	if last != "" {
		if end, err = parseUint(last); err != nil || end < start {
			return byteRange{}, false, errUnsatisfiable
		}
	}
	if start >= size {
		return byteRange{}, false, errUnsatisfiable
	}
	end = min(end, size-1)
	return byteRange{start: start, length: end - start + 1}, true, nil
}

// parseUint parses digits only (no sign, no spaces); a number too big for
// 64 bits saturates, which no object reaches.
func parseUint(s string) (uint64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return math.MaxUint64, nil
	}
	return n, err
}
