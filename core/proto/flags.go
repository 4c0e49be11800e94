package proto

// Flags are per-frame command flags (cflags). Bit values follow the original.
type Flags uint64

const (
	FlagNeedAck       Flags = 1 << 0 // kept for compatibility; every request gets a final reply
	FlagMore          Flags = 1 << 1 // more replies follow for this transaction
	FlagDirect        Flags = 1 << 3 // serve locally, never forward
	FlagNoLock        Flags = 1 << 4 // skip per-key ordering (internal commands)
	FlagChecksum      Flags = 1 << 5 // LOOKUP: compute and verify the data checksum
	FlagDirectBackend Flags = 1 << 7 // use Header.Backend instead of choosing by group
	FlagTrace         Flags = 1 << 8 // log this request at every hop
	FlagReply         Flags = 1 << 9 // frame is a reply
	// FlagRelay: the payload starts with a relay target (AppendRelay); the
	// receiving node sends the request, without the target, to the node at
	// that address and relays every reply back, intermediate ones included.
	// A client that cannot reach a node (proxy clients, NAT) reaches it so.
	FlagRelay Flags = 1 << 10
)

// Has reports whether every bit of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// IOFlags modify a single data command (io.flags in the original).
type IOFlags uint32

const (
	IOAppend IOFlags = 1 << 1 // WRITE: append to the current data
	// IOPrepare, IOPlainWrite and IOCommit are the phases of a chunked
	// upload (WRITE; IOAttr.TotalSize is the reservation of a prepare and
	// the final size of a commit). The column stays invisible until commit.
	IOPrepare    IOFlags = 1 << 4
	IOCommit     IOFlags = 1 << 5
	IOPlainWrite IOFlags = 1 << 9 // same bit as IONoData, which is READ's
	IONoData     IOFlags = 1 << 9 // READ: metadata only
	// IOCompareAndSwap on WRITE: the 64 bytes after the column are the
	// SHA-512 the stored value must have (the original's io.parent); the
	// data follows them. A mismatch is status.Mismatch.
	IOCompareAndSwap IOFlags = 1 << 13
	IOChecksum       IOFlags = 1 << 14 // LOOKUP: return the SHA-512 checksum of the data
	// IOCASTimestamp on WRITE: refuse (status.Mismatch) if the stored
	// timestamp is newer than the request's.
	IOCASTimestamp IOFlags = 1 << 15
	// IOWholeObject on REMOVE with a column set removes the object with every
	// column anyway; without a column REMOVE always removes the whole object.
	IOWholeObject IOFlags = 1 << 20
	// IOColumnOnly on REMOVE with an empty column removes only the default
	// column instead of the whole object.
	IOColumnOnly IOFlags = 1 << 21
	// IOTombstone on WRITE (between nodes: recovery moving a remove) applies
	// a remove that happened at the request's timestamp: the column (or,
	// with IOWholeObject, every column) is removed where it is not newer,
	// and the tombstone recorded. The request carries no data.
	IOTombstone IOFlags = 1 << 22
)

// Has reports whether every bit of f2 is set in f.
func (f IOFlags) Has(f2 IOFlags) bool { return f&f2 == f2 }

// RecordFlags describe a stored record (on disk and in replies).
type RecordFlags uint64

const (
	RecordRemoved RecordFlags = 1 << 0 // tombstone
	RecordNoCsum  RecordFlags = 1 << 1 // stored without checksum
	RecordAppend  RecordFlags = 1 << 4 // last write was an append
	// RecordUncommitted: a prepared upload not committed yet (WRITE replies
	// to prepare and plain writes).
	RecordUncommitted RecordFlags = 1 << 7
)
