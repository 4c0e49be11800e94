package route

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/vfs"
)

const (
	// DefaultPoints is the number of ring points a backend takes on first
	// start. A backend's share of its group's ring is the sum of the arcs
	// of its points; with n random points per backend the share varies by
	// about 1/sqrt(n) around the fair share (the arcs are nearly
	// independent exponential variables), so 1 point (the original's
	// default on a small disk) gives shares from almost nothing to several
	// times the mean, while 16 points keep them within about ±25%. More
	// points cost 64 bytes each in every node's route table and more, smaller
	// ranges to move when a node joins; 16 is the balance.
	DefaultPoints = 16
	// MaxPoints is the most ring points one backend may have.
	MaxPoints = 4096
	// IDsFileName is the name of the file that keeps a backend's points,
	// in the backend's data directory (the original's "<history>/ids").
	IDsFileName = "ids"

	idsHeader = "elliptics-ids v1"
	// idsMaxSize bounds what LoadOrCreatePoints reads: the header and
	// MaxPoints lines of 128 hex digits.
	idsMaxSize = len(idsHeader) + 1 + MaxPoints*(2*id.Size+1)
)

// LoadOrCreatePoints returns the ring points of the backend whose data
// directory is dir, sorted ascending.
//
// On first start (no dir/ids file) it creates dir if needed, draws count
// random points from crypto/rand and writes them atomically (temporary
// file, fsync, rename, directory fsync). Later starts read the file back and
// ignore count (it must still be valid, 1..MaxPoints): points never change
// once chosen, since a change would move the backend's data elsewhere.
//
// The file is text, as written by FormatPoints:
//
//	elliptics-ids v1
//	<128 lowercase hex digits>
//	<128 lowercase hex digits>
//	...
//
// one point per line, every line ending in "\n". ParsePoints reads it
// strictly: a wrong header, a line of the wrong length or with other than
// lowercase hex digits, a blank line, a missing final newline, no points,
// more than MaxPoints, or a point listed twice is an error naming the file
// and the line, matching ErrIDsFile. A damaged file is never replaced: the
// operator restores it (or removes it to give the backend new points and
// let recovery move its data).
func LoadOrCreatePoints(dir string, count int) ([]id.ID, error) {
	return LoadOrCreatePointsFS(vfs.Default, dir, count)
}

// LoadOrCreatePointsFS is LoadOrCreatePoints on the file system fsys.
func LoadOrCreatePointsFS(fsys vfs.FS, dir string, count int) ([]id.ID, error) {
	if count < 1 || count > MaxPoints {
		return nil, invalidf("ring points: count %d, want 1..%d", count, MaxPoints)
	}
	path := filepath.Join(dir, IDsFileName)
	data, err := readIDsFile(fsys, path)
	if err == nil {
		return ParsePoints(path, data)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("route: read ring points: %w", err)
	}

	// First start.
	if _, err := fsys.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("route: create ring points directory: %w", err)
		}
		// Make the new directory's entry durable too.
		if err := fsys.SyncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
			return nil, fmt.Errorf("route: create ring points directory: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("route: ring points directory: %w", err)
	}
	pts, err := RandomPoints(count)
	if err != nil {
		return nil, err
	}
	if err := vfs.WriteFileAtomic(fsys, path, FormatPoints(pts)); err != nil {
		return nil, fmt.Errorf("route: write ring points: %w", err)
	}
	return pts, nil
}

// readIDsFile reads path, refusing files larger than any valid ids file.
func readIDsFile(fsys vfs.FS, path string) ([]byte, error) {
	f, err := vfs.Open(fsys, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(idsMaxSize)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > idsMaxSize {
		return nil, idsFilef("ids file %s: larger than %d bytes, the size of %d points", path, idsMaxSize, MaxPoints)
	}
	return data, nil
}

// RandomPoints returns count distinct random points from crypto/rand,
// sorted ascending. count must be 1..MaxPoints.
func RandomPoints(count int) ([]id.ID, error) {
	if count < 1 || count > MaxPoints {
		return nil, invalidf("ring points: count %d, want 1..%d", count, MaxPoints)
	}
	pts := make([]id.ID, count)
	for {
		for i := range pts {
			rand.Read(pts[i][:]) // never fails (crypto/rand since Go 1.24)
		}
		slices.SortFunc(pts, func(a, b id.ID) int { return bytes.Compare(a[:], b[:]) })
		// Two equal 512-bit random numbers do not happen; if they did,
		// draw again rather than hand out a duplicate.
		if !hasAdjacentDup(pts) {
			return pts, nil
		}
	}
}

func hasAdjacentDup(pts []id.ID) bool {
	for i := 1; i < len(pts); i++ {
		if pts[i] == pts[i-1] {
			return true
		}
	}
	return false
}

// FormatPoints returns the ids file contents for pts, in the given order
// (LoadOrCreatePoints writes them sorted).
func FormatPoints(pts []id.ID) []byte {
	out := make([]byte, 0, len(idsHeader)+1+len(pts)*(2*id.Size+1))
	out = append(out, idsHeader...)
	out = append(out, '\n')
	for _, p := range pts {
		out = append(out, p.String()...)
		out = append(out, '\n')
	}
	return out
}

// ParsePoints parses the contents of an ids file (see LoadOrCreatePoints for
// the format) and returns the points sorted ascending. name is used in
// errors only. The points may be listed in any order.
func ParsePoints(name string, data []byte) ([]id.ID, error) {
	if len(data) == 0 {
		return nil, idsFilef("ids file %s: empty", name)
	}
	if data[len(data)-1] != '\n' {
		return nil, idsFilef("ids file %s: no newline at the end (truncated?)", name)
	}
	lines := bytes.Split(data[:len(data)-1], []byte{'\n'})
	if string(lines[0]) != idsHeader {
		return nil, idsFilef("ids file %s line 1: header %.40q, want %q", name, lines[0], idsHeader)
	}
	lines = lines[1:]
	if len(lines) == 0 {
		return nil, idsFilef("ids file %s: no points", name)
	}
	if len(lines) > MaxPoints {
		return nil, idsFilef("ids file %s: %d points, at most %d", name, len(lines), MaxPoints)
	}
	type numbered struct {
		p    id.ID
		line int
	}
	pts := make([]numbered, len(lines))
	for i, l := range lines {
		ln := i + 2
		if len(l) != 2*id.Size {
			return nil, idsFilef("ids file %s line %d: %d characters, want %d lowercase hex digits", name, ln, len(l), 2*id.Size)
		}
		for j, c := range l {
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return nil, idsFilef("ids file %s line %d: character %d is %q, want a lowercase hex digit", name, ln, j+1, c)
			}
		}
		p, err := id.Parse(string(l))
		if err != nil { // cannot happen after the checks above
			return nil, idsFilef("ids file %s line %d: %v", name, ln, err)
		}
		pts[i] = numbered{p, ln}
	}
	slices.SortStableFunc(pts, func(a, b numbered) int { return bytes.Compare(a.p[:], b.p[:]) })
	out := make([]id.ID, len(pts))
	for i, n := range pts {
		if i > 0 && n.p == pts[i-1].p {
			return nil, idsFilef("ids file %s line %d: point %s already on line %d", name, n.line, n.p.Short(), pts[i-1].line)
		}
		out[i] = n.p
	}
	return out, nil
}
