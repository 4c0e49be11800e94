package blob

import (
	"cmp"
	"context"
	"slices"

	"github.com/elliptics/elliptics/core/backend"
)

// locationsLocked returns the data files holding live records, in file
// order, and each one's record offsets (unsorted). idxMu is held.
func (b *Backend) locationsLocked() ([]*dataFile, map[*dataFile][]uint64) {
	byFile := map[*dataFile][]uint64{}
	b.idx.each(func(l location) {
		if f := b.files.bySlot[l.file]; f != nil {
			byFile[f] = append(byFile[f], l.off)
		}
	})
	files := make([]*dataFile, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sortFiles(files)
	return files, byFile
}

// collect returns the live records whose header passes keep, sorted by
// (ID, column). Headers are read file by file in offset order.
func (b *Backend) collect(ctx context.Context, keep func(*header) bool) ([]backend.Record, error) {
	b.swapMu.RLock()
	defer b.swapMu.RUnlock()
	b.idxMu.RLock()
	files, byFile := b.locationsLocked()
	b.idxMu.RUnlock()
	var recs []backend.Record
	n := 0
	for _, f := range files {
		offs := byFile[f]
		slices.Sort(offs)
		for _, off := range offs {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
			hdr, err := b.readHeader(f, off)
			if err != nil {
				return nil, err
			}
			if keep(&hdr) {
				recs = append(recs, backend.Record{Key: backend.Key{ID: hdr.id, Column: hdr.column}, Meta: metaOf(&hdr)})
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(x, y backend.Record) int {
		if c := x.ID.Compare(y.ID); c != 0 {
			return c
		}
		return cmp.Compare(x.Column, y.Column)
	})
	return recs, nil
}
