// Package blob is the log-structured blob backend, in the tradition of eblob
// and Haystack: records are appended to data files that rotate by size and
// record count, an in-memory index maps each key to its latest record, and
// removed or overwritten records are reclaimed by defragmentation.
//
// The moving parts:
//
//	Write ─ stripe lock (per object) ─ find old record (index + header on disk)
//	      ─ append record to the active file (appendMu) ─ group commit (fsync)
//	      ─ index update (idxMu)
//	Read  ─ index candidates ─ header check ─ data read ─ checksum ─ snappy
//
// Every record carries a header checksum and a data checksum (xxhash64), so
// a read never returns bytes that differ from those written: it returns
// status.ErrCorrupt instead. A write is acknowledged after its bytes are in
// the file (and, with SyncAlways, fsynced, with concurrent writers sharing
// one fsync), so it survives the kill of the process.
//
// The index stores a 40-bit fingerprint and a packed location per key, 12
// bytes a slot (see index.go); it is snapshotted to index.snap at every file
// rotation, after each defragmented file and on Close, and Open loads the
// snapshot and replays only the records written after it. A record cut short
// by a crash at the end of the log fails its checksum and is truncated away.
//
// Lock order: stripe → swapMu → appendMu → idxMu. swapMu is held shared by
// every read and write for the whole operation, and exclusively only for the
// short moments when defragmentation swaps a file or a snapshot is taken, so
// file handles and locations stay valid while an operation uses them.
//
// The on-disk format is documented in docs/storage.md.
package blob
