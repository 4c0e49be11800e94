package file

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"

	"github.com/elliptics/elliptics/core/id"
)

const (
	// objectsDir holds the fan-out tree under the backend's directory.
	objectsDir = "objects"
	// formatFile names the layout marker in the backend's directory.
	formatFile = "FORMAT"
	// formatText is the marker's contents for this layout.
	formatText = "elliptics file backend, layout 1\n"

	// defaultColumnFile names the file of the default column "".
	defaultColumnFile = "_"
	// inlinePrefix starts the file name of a column whose name is hex
	// encoded in full.
	inlinePrefix = "c"
	// hashedPrefix starts the file name of a column whose name is too long
	// to hex encode within a file name limit; the name itself is in the
	// header.
	hashedPrefix = "h"
	// maxInlineColumn is the longest column name encoded in the file name:
	// "c" + 200 hex digits, with room for the temporary-file affixes inside
	// the usual 255-byte file name limit.
	maxInlineColumn = 100
	// tempPrefix starts the name of a column file being written. Such files
	// are never read and are removed on Open.
	tempPrefix = ".tmp."
)

// fanout returns the two fan-out directory names of oid: the hex of its
// first and second byte.
func fanout(oid id.ID) (string, string) {
	return hex.EncodeToString(oid[0:1]), hex.EncodeToString(oid[1:2])
}

// objectDir is the directory holding every column file of oid:
// <root>/objects/<hex byte 0>/<hex byte 1>/<hex id>.
func objectDir(root string, oid id.ID) string {
	a, b := fanout(oid)
	return filepath.Join(root, objectsDir, a, b, oid.String())
}

// columnFileName encodes a column name as a file name that is safe whatever
// bytes the name holds ('/', "..", NUL, invalid UTF-8) and unique per name.
func columnFileName(column string) string {
	switch {
	case column == "":
		return defaultColumnFile
	case len(column) <= maxInlineColumn:
		return inlinePrefix + hex.EncodeToString([]byte(column))
	default:
		sum := sha256.Sum256([]byte(column))
		return hashedPrefix + hex.EncodeToString(sum[:])
	}
}

// parseColumnFileName reports whether name is a column file name. For the
// default and inline forms it returns the column name and known = true; for
// the hashed form the name has to be taken from the file's header (and
// checked against the file name with columnFileName).
func parseColumnFileName(name string) (column string, known, ok bool) {
	switch {
	case name == defaultColumnFile:
		return "", true, true
	case strings.HasPrefix(name, inlinePrefix):
		s := name[len(inlinePrefix):]
		if s == "" || len(s) > 2*maxInlineColumn || !isLowerHex(s) {
			return "", false, false
		}
		b, err := hex.DecodeString(s)
		if err != nil {
			return "", false, false
		}
		return string(b), true, true
	case strings.HasPrefix(name, hashedPrefix):
		s := name[len(hashedPrefix):]
		if len(s) != 2*sha256.Size || !isLowerHex(s) {
			return "", false, false
		}
		return "", false, true
	}
	return "", false, false
}

// parseFanoutName decodes a fan-out directory name: two lower-case hex
// digits.
func parseFanoutName(name string) (byte, bool) {
	if len(name) != 2 || !isLowerHex(name) {
		return 0, false
	}
	var b [1]byte
	if _, err := hex.Decode(b[:], []byte(name)); err != nil {
		return 0, false
	}
	return b[0], true
}

// parseObjectDirName decodes an object directory name: the full lower-case
// hex ID.
func parseObjectDirName(name string) (id.ID, bool) {
	var oid id.ID
	if len(name) != 2*id.Size || !isLowerHex(name) {
		return oid, false
	}
	if _, err := hex.Decode(oid[:], []byte(name)); err != nil {
		return oid, false
	}
	return oid, true
}

// isLowerHex reports whether s holds only 0-9 and a-f, the digits this
// package writes; names in that form sort like the bytes they encode.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isTemp reports whether name is a temporary file left by a write.
func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }
