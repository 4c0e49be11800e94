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
)

// Has reports whether every bit of f2 is set in f.
func (f Flags) Has(f2 Flags) bool { return f&f2 == f2 }

// IOFlags modify a single data command (io.flags in the original).
type IOFlags uint32

const (
	IOAppend   IOFlags = 1 << 1  // WRITE: append to the current data
	IONoData   IOFlags = 1 << 9  // READ: metadata only
	IOChecksum IOFlags = 1 << 14 // LOOKUP: return the SHA-512 checksum of the data
	// IOWholeObject on REMOVE with a column set removes the object with every
	// column anyway; without a column REMOVE always removes the whole object.
	IOWholeObject IOFlags = 1 << 20
	// IOColumnOnly on REMOVE with an empty column removes only the default
	// column instead of the whole object.
	IOColumnOnly IOFlags = 1 << 21
)

// Has reports whether every bit of f2 is set in f.
func (f IOFlags) Has(f2 IOFlags) bool { return f&f2 == f2 }

// RecordFlags describe a stored record (on disk and in replies).
type RecordFlags uint64

const (
	RecordRemoved RecordFlags = 1 << 0 // tombstone
	RecordNoCsum  RecordFlags = 1 << 1 // stored without checksum
	RecordAppend  RecordFlags = 1 << 4 // last write was an append
)
