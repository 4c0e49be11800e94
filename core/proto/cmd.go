package proto

import "fmt"

// Cmd is a protocol command. Numbers follow the original Elliptics 2.26 where
// a command exists there, so traces read the same; numbers 1..127 are for
// core commands, 128 and up for extensions registered by servers.
type Cmd uint32

// Commands implemented by the core. Numbers absent here are reserved (see
// docs/protocol.md) and answered with status.Unsupported until implemented.
const (
	CmdLookup    Cmd = 1 // object metadata (size, timestamp, user flags, checksum)
	CmdHandshake Cmd = 2 // version check + node description (REVERSE_LOOKUP in the original)
	CmdWrite     Cmd = 4 // write whole, at offset, or append
	CmdRead      Cmd = 5 // read offset/size
	// CmdRouteList returns the member list of the node's route table
	// (addresses and versions); the asker connects to members it does not
	// know and learns their backends from their handshakes.
	CmdRouteList Cmd = 8
	// CmdNotify watches a key (NotifyRequest): the request stays open and
	// streams a NotifyEvent per write or remove of the key on its owner,
	// and keep-alives, until dropped or its connection closes.
	CmdNotify Cmd = 10
	CmdRemove Cmd = 11 // remove an object or one column (DEL in the original)
	// CmdExec runs a stored script's function next to the data
	// (ExecRequest, ExecReply): on the key's owner, or with ExecNoKey on
	// the node reached; the original's number for server-side execution.
	CmdExec Cmd = 7
	// CmdReadRange reads (or, with IONoData, counts) the records of one
	// backend whose IDs are in [start, end): RangeRequest, a RangeEntry
	// reply with flag More per record, then a RangeResult.
	CmdReadRange Cmd = 14
	// CmdRemoveRange removes the records of one backend whose IDs are in
	// [start, end): RangeRequest, RangeResult.
	CmdRemoveRange Cmd = 15
	// CmdAuth proves a cluster secret or a client key before HANDSHAKE on
	// a node that wants authentication (AuthRequest; the original's number
	// for its auth cookie check).
	CmdAuth Cmd = 16
	// CmdIterator starts, pauses, continues or cancels a server-side
	// iterator (IteratorRequest; IteratorEntry replies).
	CmdIterator Cmd = 19
	// CmdMonitorStat returns the node's statistics as JSON: a u64 bitmask
	// of categories (MonitorStatRequest), a JSON reply (docs/monitoring.md).
	CmdMonitorStat Cmd = 23
	// CmdBackendControl enables, disables, makes read-only or writable and
	// defragments one backend (BackendControl request, status list reply).
	CmdBackendControl Cmd = 25
	// CmdBackendStatus returns the status of every backend of the node; it
	// is also the liveness probe (Session.Ping).
	CmdBackendStatus Cmd = 26
	// CmdRoutesChanged is pushed by a node, unasked and without a reply, on
	// the connections it serves when its backends or members change
	// (UPDATE_IDS in the original).
	CmdRoutesChanged Cmd = 24
	// CmdSend copies (or moves) listed local records to other groups
	// (server-send: SendRequest, SendReply).
	CmdSend Cmd = 27
	// CmdBulkRead reads many keys of one group on one node: BulkKey
	// entries (each a READ payload), one final reply of BulkResults. Keys
	// whose results would not fit the reply are left out; the requester
	// sends them again.
	CmdBulkRead Cmd = 17
	// CmdBulkWrite writes many keys of one group on one node (not in the
	// original, whose bulk_write was parallel WRITEs): BulkKey entries (each
	// a WRITE payload), one final reply of BulkResults.
	CmdBulkWrite Cmd = 29
	// CmdRecovery starts, lists, pauses, resumes and stops the node's
	// recovery jobs (not in the original, whose recovery was an offline
	// tool): a JSON RecoveryRequest, a JSON reply listing the jobs.
	CmdRecovery Cmd = 30

	// CmdExtensionBase is the first number free for extension commands.
	CmdExtensionBase Cmd = 128
)

var cmdNames = map[Cmd]string{
	CmdLookup:         "LOOKUP",
	CmdHandshake:      "HANDSHAKE",
	CmdWrite:          "WRITE",
	CmdRead:           "READ",
	CmdRemove:         "REMOVE",
	CmdBackendControl: "BACKEND_CONTROL",
	CmdBackendStatus:  "BACKEND_STATUS",
	CmdRouteList:      "ROUTE_LIST",
	CmdNotify:         "NOTIFY",
	CmdExec:           "EXEC",
	CmdRoutesChanged:  "ROUTES_CHANGED",
	CmdReadRange:      "READ_RANGE",
	CmdRemoveRange:    "REMOVE_RANGE",
	CmdIterator:       "ITERATOR",
	CmdSend:           "SEND",
	CmdBulkRead:       "BULK_READ",
	CmdBulkWrite:      "BULK_WRITE",
	CmdRecovery:       "RECOVERY",
	CmdMonitorStat:    "MONITOR_STAT",
	CmdAuth:           "AUTH",
}

// String returns the command's name, or CMD_<n> for unnamed ones.
func (c Cmd) String() string {
	if n, ok := cmdNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CMD_%d", uint32(c))
}

// RegisterName names an extension command for logs and statistics.
// It must be called at init time, before any concurrent use.
func RegisterName(c Cmd, name string) { cmdNames[c] = name }
