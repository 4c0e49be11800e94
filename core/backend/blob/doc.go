// Package blob is the log-structured blob backend, in the tradition of eblob
// and Haystack: records are appended to data files that rotate by size and
// record count, an in-memory index maps each key to its latest record, and
// removed or overwritten records are reclaimed by defragmentation.
//
// The moving parts:
//
//	Write ─ stripe lock (per object) ─ find old record (index + header on disk)
//	      ─ queue the record; the append leader writes every queued record
//	        with one vectored write (appendMu) ─ group commit (fdatasync)
//	      ─ index update (idxMu)
//	Read  ─ index candidates ─ header check ─ data read ─ checksum ─ snappy
//
// An offset write or append to a big value takes another way (rewrite.go):
// it builds the new value in a reserved record, streaming the old one
// through a block buffer, commits it as an upload's commit does, and only
// then points the index at it.
//
// Every record carries a header checksum and a data checksum (xxhash64), so
// a read never returns bytes that differ from those written: it returns
// status.ErrCorrupt instead. A write is acknowledged after its bytes are in
// the file (and, with SyncAlways, synced, with concurrent writers sharing
// one sync), so it survives the kill of the process.
//
// Concurrent writers are combined twice (append.go, commit.go): the first
// of them to append (the append leader) writes the records of all the
// others queued at that moment in one pwritev, and the first to need a sync
// (the sync leader) waits until the other writers in the backend have
// appended too (at most half a sync) and then syncs once for all. A lone
// writer does neither: it writes its own record and syncs it. A write of
// 512 KiB or more that will be synced is made in pieces of 256 KiB, each
// piece's writeback started at once (sync_file_range), so the device works
// while the next piece is copied. With SyncNone the leader copies small
// records into a shared mapping of the active file instead of calling
// pwrite (tailmap.go): the same guarantee without the system call.
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
// file handles and locations stay valid while an operation uses them. Those
// two first wait for running rewrites of big values (lockSwap), which hold
// swapMu shared for as long as their copy takes: a pending Lock would stall
// every new reader and writer behind it.
// roMu (read-only state) comes before swapMu and is never taken under
// appendMu: a write failure is reported after appendMu is released. The
// append queue's and the committer's own mutexes are leaves, held for a few
// instructions (the committer's before appendMu in reset).
//
// The on-disk format is documented in docs/storage.md.
package blob
