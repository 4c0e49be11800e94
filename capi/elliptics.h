/*
 * elliptics.h: the C ABI of libelliptics, the Elliptics client library.
 *
 * This header is written by hand and is the stable contract: the Python
 * package (cffi) and the C++ headers are built on it. `make capi` checks that
 * the Go exports of libelliptics.so match every declaration below.
 *
 * Conventions
 * - Objects are opaque handles (uint64_t typedefs); 0 is never a valid
 *   handle. Every handle made by a *_new call (or returned by an async call)
 *   is released by its *_free / *_close call, exactly once.
 * - Calls that can fail return an int32_t status: ELL_OK (0) or a negative
 *   errno-style code (ELL_E*). They take a last `ell_error *err` argument
 *   that may be NULL; when it is not NULL and the call fails, it receives the
 *   code and a message.
 * - Sizes and lengths are explicit; strings passed in are NUL-terminated
 *   unless a length goes with them. Nothing returned points into Go memory:
 *   results live in C memory owned by the library until their handle is
 *   freed.
 * - Data calls are asynchronous. They return an ell_async_t at once; the
 *   caller waits on it (ell_async_wait), or asks for a callback, or for the
 *   handle to be posted to a completion queue (ell_completion). The library
 *   copies keys and data before a call returns: the caller's buffers are free
 *   to reuse at once.
 * - All functions are thread-safe. Callbacks run on a library thread: they
 *   must return quickly and must not wait on another operation.
 * - One Go runtime per process: after fork() the child must not call the
 *   library (the Python package raises an error there instead of hanging).
 */
#ifndef ELLIPTICS_H
#define ELLIPTICS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version: bumped when a declaration below changes incompatibly. */
#define ELL_ABI_VERSION 1

/* Status codes: negative errno values, as on the wire. */
#define ELL_OK 0
#define ELL_EPERM -1          /* not permitted */
#define ELL_ENOENT -2         /* no such key */
#define ELL_EIO -5            /* the backend failed to read or write */
#define ELL_ENXIO -6          /* no node serves this group or key; checker failed */
#define ELL_EAGAIN -11        /* overloaded, retry later */
#define ELL_ENOMEM -12        /* out of memory */
#define ELL_EEXIST -17        /* the object already exists */
#define ELL_EINVAL -22        /* invalid argument or malformed request */
#define ELL_ENOSPC -28        /* disk full */
#define ELL_EROFS -30         /* backend or node is read-only */
#define ELL_EPROTO -71        /* bad frame or incompatible protocol version */
#define ELL_EBADFD -77        /* compare-and-swap precondition failed */
#define ELL_EILSEQ -84        /* checksum mismatch: data on disk is corrupt */
#define ELL_EMSGSIZE -90      /* a length exceeds a configured limit */
#define ELL_EOPNOTSUPP -95    /* unknown or disabled command */
#define ELL_ECONNRESET -104   /* the connection closed before the reply */
#define ELL_ESHUTDOWN -108    /* the node is stopping */
#define ELL_ETIMEDOUT -110    /* no reply within the deadline */
#define ELL_EALREADY -114     /* the requested state is already in effect */
#define ELL_ECANCELED -125    /* the caller gave up; the handle was closed */

#define ELL_ID_SIZE 64
#define ELL_ERROR_MESSAGE_MAX 512

/* Checkers: how a multi-group call decides success. */
#define ELL_CHECKER_NO_CHECK 0
#define ELL_CHECKER_AT_LEAST_ONE 1 /* default */
#define ELL_CHECKER_ALL 2
#define ELL_CHECKER_QUORUM 3

/* Filters: which entries a result carries. */
#define ELL_FILTER_POSITIVE 0 /* default: successes only */
#define ELL_FILTER_NEGATIVE 1 /* failures only */
#define ELL_FILTER_ALL 2

/* Log levels for ell_node_config.log_level. */
#define ELL_LOG_ERROR 0
#define ELL_LOG_WARNING 1
#define ELL_LOG_INFO 2
#define ELL_LOG_NOTICE 3
#define ELL_LOG_DEBUG 4

typedef uint64_t ell_node_t;    /* connections to a cluster */
typedef uint64_t ell_session_t; /* settings of a series of calls */
typedef uint64_t ell_async_t;   /* one operation in flight or done */
typedef uint64_t ell_queue_t;   /* a completion queue */

/* An error: the status code and a NUL-terminated message. */
typedef struct ell_error {
	int32_t code;
	char message[ELL_ERROR_MESSAGE_MAX];
} ell_error;

/* The library's version ("0.1.0") and ELL_ABI_VERSION as built. */
const char *ell_version(void);
int32_t ell_abi_version(void);
/* A short constant description of a status code ("no such key"). */
const char *ell_strerror(int32_t code);

/* ---- node ---------------------------------------------------------------- */

typedef struct ell_node_config {
	int64_t wait_timeout_ms;  /* default time a call waits for replies (5000) */
	int64_t dial_timeout_ms;  /* connecting to a node (5000) */
	int64_t check_timeout_ms; /* how often routes are pulled again (5000) */
	int32_t proxy;            /* 1: send everything through the remotes added (NAT) */
	int32_t log_level;        /* ELL_LOG_* (ELL_LOG_ERROR) */
	const char *log_file;     /* NULL or "": no log; "/dev/stderr" works */
	const char *name;         /* names the client in node logs; may be NULL */
	const char *key_id;       /* client key of nodes that authenticate ([security], docs/security.md); NULL: none */
	const char *key_secret;   /* its secret; needed with key_id */
} ell_node_config;

/* Fills c with the defaults (all zero means defaults too). */
void ell_node_config_init(ell_node_config *c);

/* Makes a node; cfg may be NULL for the defaults. */
int32_t ell_node_new(const ell_node_config *cfg, ell_node_t *out, ell_error *err);
/* Connects to "host:port" addresses and learns the cluster's routes from
 * them. Succeeds if at least one is reached; blocks for at most the dial
 * timeout. */
int32_t ell_node_add_remotes(ell_node_t n, const char *const *addrs, size_t count, ell_error *err);
/* Changes the default wait timeout of sessions made after the call, and how
 * often routes are pulled again; 0 leaves a value as it is. */
int32_t ell_node_set_timeouts(ell_node_t n, int64_t wait_timeout_ms, int64_t check_timeout_ms, ell_error *err);
/* Makes the node connect with TLS from now on (docs/tls.md): ca_file holds
 * the CA certificates that verify the nodes (NULL or "": the system's
 * pool); cert_file and key_file, both or neither, are the client
 * certificate for nodes with client_auth; server_name, unless NULL or "",
 * is the name the nodes' certificates are verified against instead of the
 * host of their address. Call it before ell_node_add_remotes: connections
 * already open stay as they are. The files are read by the call. */
int32_t ell_node_set_tls(ell_node_t n, const char *ca_file, const char *cert_file, const char *key_file,
			 const char *server_name, ell_error *err);
/* Closes every connection; operations in flight fail with ELL_ECANCELED.
 * Sessions of the node stay valid handles but their calls fail. */
void ell_node_close(ell_node_t n);

/* One route: a ring point of a backend. */
typedef struct ell_route {
	uint8_t id[ELL_ID_SIZE];
	uint32_t group_id;
	int32_t backend_id;
	const char *address; /* "host:port" */
} ell_route;

typedef struct ell_route_list {
	ell_route *routes; /* sorted by group, then id */
	size_t count;
} ell_route_list;

/* The node's current route table. Free it with ell_route_list_free. */
int32_t ell_node_routes(ell_node_t n, ell_route_list *out, ell_error *err);
void ell_route_list_free(ell_route_list *l);

/* ---- completion ---------------------------------------------------------- */

/* Called once when an operation completes, on a library thread, after its
 * entries and status are final (ell_async_wait may return a moment before
 * the callback runs). The callback may free the handle. It is not called if
 * the handle was freed before completion; closing the node completes calls
 * in flight with ELL_ECANCELED, and their callbacks run. */
typedef void (*ell_callback)(ell_async_t a, void *userdata);

/* How an asynchronous call reports completion; pass NULL to only wait. Both
 * a callback and a queue may be set: the callback runs first. */
typedef struct ell_completion {
	ell_callback callback; /* may be NULL */
	void *userdata;
	ell_queue_t queue; /* 0: none; else the handle is posted there with tag */
	uint64_t tag;
} ell_completion;

/* A completion queue gathers finished operations from many calls, for event
 * loops: its file descriptor is readable while the queue is not empty. */
int32_t ell_queue_new(ell_queue_t *out, ell_error *err);
/* The queue's file descriptor (an eventfd) for poll/epoll/asyncio; owned by
 * the queue. */
int ell_queue_fd(ell_queue_t q);
/* Takes the oldest completion: ELL_OK and *tag, *a set; ELL_ETIMEDOUT when
 * none came within timeout_ms (0: do not wait; <0: wait forever). */
int32_t ell_queue_pop(ell_queue_t q, int64_t timeout_ms, uint64_t *tag, ell_async_t *a, ell_error *err);
/* Frees the queue; completions still to come are dropped (their handles must
 * still be freed by whoever holds them). */
void ell_queue_free(ell_queue_t q);

/* ---- session ------------------------------------------------------------- */

/* A key: a name (turned into an ID with the session's namespace) or a raw
 * ID; optionally a column of the object. */
typedef struct ell_key {
	const char *name; /* bytes, not necessarily NUL-terminated */
	size_t name_len;
	int32_t has_id; /* 1: use id, ignore name */
	uint8_t id[ELL_ID_SIZE];
	const char *column; /* NULL or "": the default column */
	size_t column_len;
} ell_key;

int32_t ell_session_new(ell_node_t n, ell_session_t *out, ell_error *err);
/* An independent copy with the same settings. */
int32_t ell_session_clone(ell_session_t s, ell_session_t *out, ell_error *err);
void ell_session_free(ell_session_t s);

/* Settings. Setters fail only on a bad handle or a bad value. */
int32_t ell_session_set_groups(ell_session_t s, const uint32_t *groups, size_t count, ell_error *err);
/* Copies up to cap groups to out; returns how many the session has. */
size_t ell_session_get_groups(ell_session_t s, uint32_t *out, size_t cap);
int32_t ell_session_set_timeout(ell_session_t s, int64_t timeout_ms, ell_error *err); /* 0: node default */
int64_t ell_session_get_timeout(ell_session_t s);
int32_t ell_session_set_cflags(ell_session_t s, uint64_t cflags, ell_error *err);
uint64_t ell_session_get_cflags(ell_session_t s);
int32_t ell_session_set_ioflags(ell_session_t s, uint32_t ioflags, ell_error *err);
uint32_t ell_session_get_ioflags(ell_session_t s);
int32_t ell_session_set_user_flags(ell_session_t s, uint64_t user_flags, ell_error *err);
uint64_t ell_session_get_user_flags(ell_session_t s);
int32_t ell_session_set_trace_id(ell_session_t s, uint64_t trace_id, ell_error *err);
uint64_t ell_session_get_trace_id(ell_session_t s);
/* The timestamp written with data; tsec = tnsec = 0 means "now" (default). */
int32_t ell_session_set_timestamp(ell_session_t s, uint64_t tsec, uint64_t tnsec, ell_error *err);
void ell_session_get_timestamp(ell_session_t s, uint64_t *tsec, uint64_t *tnsec);
int32_t ell_session_set_namespace(ell_session_t s, const char *ns, size_t len, ell_error *err);
/* Copies up to cap bytes of the namespace to out; returns its length. */
size_t ell_session_get_namespace(ell_session_t s, char *out, size_t cap);
int32_t ell_session_set_checker(ell_session_t s, int32_t checker, ell_error *err);
int32_t ell_session_get_checker(ell_session_t s);
int32_t ell_session_set_filter(ell_session_t s, int32_t filter, ell_error *err);
int32_t ell_session_get_filter(ell_session_t s);

/* Local computations (no network). */
/* The ID of a key in this session (namespace applied). */
int32_t ell_session_key_id(ell_session_t s, const ell_key *key, uint8_t out[ELL_ID_SIZE], ell_error *err);
/* SHA-512 of data, namespace-prefixed when the session has one. */
int32_t ell_session_transform(ell_session_t s, const void *data, size_t len, uint8_t out[ELL_ID_SIZE], ell_error *err);
/* The node that owns key in group: its "host:port" copied NUL-terminated to
 * addr (ELL_EMSGSIZE if cap is too small) and the backend to *backend_id. */
int32_t ell_session_lookup_address(ell_session_t s, const ell_key *key, uint32_t group, char *addr, size_t cap,
				   int32_t *backend_id, ell_error *err);

/* ---- data calls (asynchronous) ------------------------------------------- */

/* Writes data at offset to the session's groups, in parallel; one entry per
 * group. The checker decides the status of the whole call. */
int32_t ell_session_write_data(ell_session_t s, const ell_key *key, const void *data, uint64_t size, uint64_t offset,
			       const ell_completion *done, ell_async_t *out, ell_error *err);
/* Reads size bytes at offset (0: to the end) from the first group that has
 * the key, trying groups in order; the entry of the group that answered. */
int32_t ell_session_read_data(ell_session_t s, const ell_key *key, uint64_t offset, uint64_t size,
			      const ell_completion *done, ell_async_t *out, ell_error *err);
/* Reads from the group with the newest copy (a lookup in every group first). */
int32_t ell_session_read_latest(ell_session_t s, const ell_key *key, uint64_t offset, uint64_t size,
				const ell_completion *done, ell_async_t *out, ell_error *err);
/* Where and what the object is, from the first group that has it. */
int32_t ell_session_lookup(ell_session_t s, const ell_key *key, const ell_completion *done, ell_async_t *out,
			   ell_error *err);
/* Removes the key from every session group; one entry per group. */
int32_t ell_session_remove(ell_session_t s, const ell_key *key, const ell_completion *done, ell_async_t *out,
			   ell_error *err);
/* Reads many keys; one entry per key found (entry.key_index says which),
 * arriving as they complete. Missing keys give no entry (or a negative one
 * with ELL_FILTER_ALL / ELL_FILTER_NEGATIVE); the call fails (ELL_ENOENT or
 * the first key's error) only when no key at all was found. */
int32_t ell_session_bulk_read(ell_session_t s, const ell_key *keys, size_t count, const ell_completion *done,
			      ell_async_t *out, ell_error *err);
/* Writes many keys; entries of every key and group (entry.key_index says
 * which key). The call fails if any key's write fails its checker. */
int32_t ell_session_bulk_write(ell_session_t s, const ell_key *keys, const void *const *datas, const uint64_t *sizes,
			       size_t count, const ell_completion *done, ell_async_t *out, ell_error *err);
/* ell_session_bulk_read with the keys given as names packed back to back:
 * name i is the name_lens[i] bytes of names that follow name i-1 (keys by
 * name, default column). A binding saves building an ell_key per key. */
int32_t ell_session_bulk_read_names(ell_session_t s, const char *names, const uint64_t *name_lens, size_t count,
				    const ell_completion *done, ell_async_t *out, ell_error *err);
/* ell_session_bulk_write with names packed as in ell_session_bulk_read_names
 * and values packed the same way: value i is the sizes[i] bytes of data that
 * follow value i-1. Both are copied before the call returns. */
int32_t ell_session_bulk_write_names(ell_session_t s, const char *names, const uint64_t *name_lens, const void *data,
				     const uint64_t *sizes, size_t count, const ell_completion *done, ell_async_t *out,
				     ell_error *err);

/* ---- writes with options -------------------------------------------------- */

/* ell_write_options.flags. */
#define ELL_WRITE_APPEND 1         /* add the data after the current end (offset ignored) */
#define ELL_WRITE_PREPARE 2        /* chunked upload: reserve total_size bytes, write data at offset */
#define ELL_WRITE_PLAIN 4          /* chunked upload: write a chunk at offset */
#define ELL_WRITE_COMMIT 8         /* chunked upload: write the last chunk, set the size to total_size */
#define ELL_WRITE_CAS_TIMESTAMP 16 /* fail with ELL_EBADFD if the stored timestamp is newer than the write's */

/* How ell_session_write writes. All zero is a plain write at offset 0. */
typedef struct ell_write_options {
	uint64_t offset;     /* where the data goes in the object (ignored with ELL_WRITE_APPEND) */
	uint32_t flags;      /* ELL_WRITE_* (PREPARE, PLAIN and COMMIT may be combined; not with APPEND) */
	int32_t has_cas;     /* 1: compare-and-swap on cas (below) */
	uint8_t cas[ELL_ID_SIZE]; /* with has_cas: the write succeeds only if the SHA-512 of the stored
				   * value is cas, or the key is absent; else ELL_EBADFD */
	uint64_t total_size; /* PREPARE: the bytes reserved; COMMIT: the final size (0 otherwise) */
	int64_t ttl_ms;      /* lifetime of the value on the node's clock; 0: none (an offset write,
			      * append or plain chunk keeps the current one); < 0: ELL_EINVAL */
} ell_write_options;

/* Writes data with options to the session's groups, in parallel; one entry
 * per group (as ell_session_write_data, which is this call with only an
 * offset; opts NULL means all zero). Chunked uploads: a value written with
 * PREPARE, then PLAIN chunks, is invisible to reads and lookups (ELL_ENOENT)
 * until its COMMIT. */
int32_t ell_session_write(ell_session_t s, const ell_key *key, const void *data, uint64_t size,
			  const ell_write_options *opts, const ell_completion *done, ell_async_t *out, ell_error *err);

/* A compare-and-swap converter (ell_session_write_cas): given the current
 * value (current, current_size; exists is 0 and current NULL when the key is
 * absent), it sets *out and *out_size to the value to write and returns
 * ELL_OK, or returns an error code that ends the call with it. *out must
 * stay valid until the converter is called again or the operation
 * completes (the library copies it right after the converter returns). It
 * runs on a library thread, once per attempt; it must not wait on another
 * operation. */
typedef int32_t (*ell_cas_converter)(void *userdata, const void *current, uint64_t current_size, int32_t exists,
				     const void **out, uint64_t *out_size);

/* A read-modify-write that loses no concurrent update: reads the newest
 * copy of the key (as ell_session_read_latest), calls converter, and writes
 * its result at offset only if the stored value still has the SHA-512 of
 * what was read (or, for an absent key, is still absent). When another
 * writer came first it starts over, at most count times in all (count <= 0:
 * 10); then the call fails with ELL_EBADFD. Entries: those of the last
 * write, one per group. */
int32_t ell_session_write_cas(ell_session_t s, const ell_key *key, ell_cas_converter converter, void *userdata,
			      uint64_t offset, int32_t count, const ell_completion *done, ell_async_t *out,
			      ell_error *err);

/* ---- files: streamed transfers ------------------------------------------- */

/* The progress of a file transfer, called on a library thread after every
 * chunk with the bytes moved so far and the bytes of the whole transfer.
 * It returns ELL_OK to go on; any other code stops the transfer, which then
 * fails with that code (a transfer whose last chunk was already done still
 * succeeds). It must return quickly and must not wait on another operation. */
typedef int32_t (*ell_progress)(void *userdata, uint64_t done, uint64_t total);

/* What a file transfer moves. All zero: the whole file or object, in
 * chunks of 4 MiB. */
typedef struct ell_file_options {
	uint64_t offset;       /* the object's byte where the transfer starts (see the calls) */
	uint64_t local_offset; /* ell_session_write_file: the file's first byte to send; read: must be 0 */
	uint64_t size;         /* bytes to move; 0: to the end of the file (write) or of the object (read) */
	uint64_t chunk_size;   /* bytes per request, about the memory used; 0: 4 MiB; at most 1 GiB */
	int64_t ttl_ms;        /* ell_session_write_file: the value's lifetime; 0: none; < 0: ELL_EINVAL */
	ell_progress progress; /* may be NULL */
	void *userdata;        /* handed to progress untouched */
} ell_file_options;

/* Writes size bytes of the file at path, from local_offset, to the key in
 * the session's groups, reading the file chunk by chunk (memory stays at
 * about one chunk whatever the size). The file is opened before the call
 * returns: a file that cannot be read is the call's own error (ELL_ENOENT,
 * ELL_EPERM), and local_offset + size past the file's end is ELL_EINVAL. A
 * file that is not a regular one (a device, a pipe) needs a size and
 * local_offset 0, and is read as it comes (opening a pipe waits for its
 * writer).
 * With offset 0 it is a chunked upload (prepare, plain chunks, commit: the
 * object is replaced, and invisible until the commit); with a non-zero
 * offset the chunks are plain writes at offset, offset + chunk, ... into
 * the object as it is (as ell_session_write_data at that offset): each is
 * visible once written, and a failure leaves those before it in place.
 * Groups that fail a chunk get no more. Entries: those of the last request
 * (the commit), one per group; opts NULL means all zero. */
int32_t ell_session_write_file(ell_session_t s, const ell_key *key, const char *path, const ell_file_options *opts,
			       const ell_completion *done, ell_async_t *out, ell_error *err);
/* Reads the object from offset, size bytes (0: to its end), into the file at
 * path in ranged reads of a chunk each, from the first group that has the
 * key (then only from that group); memory stays at about one chunk. The
 * file is opened (created with mode 0644 if missing) before the call
 * returns, so a path that cannot be written is the call's own error; it is
 * truncated only once the first chunk was read: a missing key leaves an
 * existing file as it was, and a file the call created is removed. On
 * success the file holds exactly the bytes read; a failure midway leaves
 * the bytes read so far. An object that changes while it is read (size or
 * timestamp) fails the call with ELL_EBADFD; offset past the object's end
 * is ELL_EINVAL. One entry: the first chunk's reply, with offset the first
 * byte read and size the bytes written to the file (no data). */
int32_t ell_session_read_file(ell_session_t s, const ell_key *key, const char *path, const ell_file_options *opts,
			      const ell_completion *done, ell_async_t *out, ell_error *err);

/* ---- ID ranges --------------------------------------------------------------- */

/* Records by ID in one group: every record (object column) whose ID is in
 * [start, end), in (ID, column) order, after skipping limit_start of them,
 * at most limit_num (0: no limit). */
typedef struct ell_range {
	uint8_t start[ELL_ID_SIZE]; /* inclusive */
	uint8_t end[ELL_ID_SIZE];   /* exclusive; start after end is ELL_EINVAL */
	uint32_t group_id;          /* 0: the session's first group */
	uint32_t reserved;          /* 0 */
	uint64_t limit_start, limit_num;
	uint64_t offset, size; /* ell_session_read_range: the part of each value (size 0: to the end) */
} ell_range;

/* Reads the records of r from the nodes that own parts of it: one entry per
 * record, sorted by (ID, column), with its data. */
int32_t ell_session_read_range(ell_session_t s, const ell_range *r, const ell_completion *done, ell_async_t *out,
			       ell_error *err);
/* Counts the records of r (limits applied) without reading them: one entry
 * whose ell_entry_ext.count is the number. */
int32_t ell_session_count_range(ell_session_t s, const ell_range *r, const ell_completion *done, ell_async_t *out,
				ell_error *err);
/* Removes the records of r (limits applied): one entry whose
 * ell_entry_ext.count is how many were removed (0 when none were left).
 * Removing every column of an object removes the object. */
int32_t ell_session_remove_range(ell_session_t s, const ell_range *r, const ell_completion *done, ell_async_t *out,
				 ell_error *err);

/* ---- server-side iterators ----------------------------------------------- */

/* ell_iterator_options.flags (the original's iterator_flags). KEY_RANGE and
 * TS_RANGE are set by the library when ranges or a time bound are given. */
#define ELL_ITERATOR_DATA 1       /* send each record's data */
#define ELL_ITERATOR_KEY_RANGE 2  /* accepted; implied by range_count > 0 */
#define ELL_ITERATOR_TS_RANGE 4   /* accepted; implied by a non-zero time bound */
#define ELL_ITERATOR_NO_META 8    /* leave timestamps, user flags and expiry out (zero) */
#define ELL_ITERATOR_MOVE 16      /* copy iterators, server_send: remove the source once copied */
#define ELL_ITERATOR_OVERWRITE 32 /* copy iterators, server_send: overwrite newer data */

/* Iterator actions (ell_session_iterator_control). */
#define ELL_ITERATOR_PAUSE 2
#define ELL_ITERATOR_CONTINUE 3
#define ELL_ITERATOR_CANCEL 4

/* Iterator states (ell_entry_ext.iterator_state). */
#define ELL_ITERATOR_STATE_RUNNING 1
#define ELL_ITERATOR_STATE_PAUSED 2
#define ELL_ITERATOR_STATE_FINISHED 3
#define ELL_ITERATOR_STATE_CANCELED 4

/* A key range of an iterator, both ends inclusive. */
typedef struct ell_iterator_range {
	uint8_t start[ELL_ID_SIZE];
	uint8_t end[ELL_ID_SIZE];
} ell_iterator_range;

/* What an iterator visits and where its records go. */
typedef struct ell_iterator_options {
	const char *address; /* "host:port" of the node to run on; NULL or "": the owner of id in group_id */
	int32_t backend_id;  /* with address: the backend to iterate */
	uint32_t group_id;   /* without address: the group (0: the session's first) */
	uint8_t id[ELL_ID_SIZE]; /* without address: the ID whose owner's backend is iterated */
	const ell_iterator_range *ranges; /* visited in order; none: every record */
	size_t range_count;
	uint64_t time_begin_tsec, time_begin_tnsec; /* only records with a timestamp in [begin, end]; */
	uint64_t time_end_tsec, time_end_tnsec;     /* a 0, 0 bound is open */
	uint64_t flags;                             /* ELL_ITERATOR_* */
	const uint32_t *copy_groups;                /* non-empty: a copy iterator (the node writes each */
	size_t copy_group_count;                    /* record to these groups; entries are per group) */
	size_t window; /* entries the library reads ahead of ell_async_next (0: 64) */
} ell_iterator_options;

/* Starts an iterator on one backend of one node. The entries stream as the
 * node sends them (ell_async_next): one per record (ell_entry.id, column,
 * size, timestamp, user_flags, record_flags, data with ELL_ITERATOR_DATA;
 * ell_entry_ext: iterator_id, iterated_keys, total_keys, expiry), or for a
 * copy iterator one per record and destination group (group_id; status
 * ELL_EBADFD: the destination kept its newer data). Flow control: the
 * library reads at most `window` entries ahead of the highest index asked
 * for with ell_async_next, so a reader that stops stops the node; a thread
 * in ell_async_wait or ell_async_collect lifts the limit (every entry is
 * then kept in memory until the handle is freed). The operation completes
 * when the iterator finished or was canceled (ELL_OK) or failed; freeing the
 * handle before that cancels it on the node. */
int32_t ell_session_start_iterator(ell_session_t s, const ell_iterator_options *opts, const ell_completion *done,
				   ell_async_t *out, ell_error *err);

/* Pauses, continues or cancels (ELL_ITERATOR_*) the iterator iterator_id
 * running on the node at address (started by any client). One entry:
 * ell_entry_ext.iterator_id, iterated_keys and total_keys. An iterator the
 * node does not know (finished, canceled) is ELL_ENOENT. */
int32_t ell_session_iterator_control(ell_session_t s, const char *address, uint64_t iterator_id, int32_t action,
				     const ell_completion *done, ell_async_t *out, ell_error *err);

/* Asks the nodes that hold keys in the session's first group to copy them to
 * groups themselves (the original's server_send); flags: ELL_ITERATOR_MOVE,
 * ELL_ITERATOR_OVERWRITE. One entry per key and group: key_index, group_id
 * (the destination), address (the source node), id, status (ELL_EBADFD
 * without OVERWRITE when the destination has newer data, which it keeps).
 * The call fails if any copy failed. */
int32_t ell_session_server_send(ell_session_t s, const ell_key *keys, size_t count, const uint32_t *groups,
				size_t group_count, uint64_t flags, const ell_completion *done, ell_async_t *out,
				ell_error *err);

/* ---- administration (JSON) ---------------------------------------------- */

/* A JSON document allocated by the library. Free it with ell_json_free. */
typedef struct ell_json {
	char *data; /* NUL-terminated */
	size_t size; /* without the NUL */
} ell_json;

void ell_json_free(ell_json *j);

/* Sends a RECOVERY request (a JSON object: docs/protocol.md, "RECOVERY":
 * {"action": "status"}, {"action": "start", "kind": "dc", "verify": true},
 * {"action": "pause", "job": N}, ...) to the node at address ("host:port")
 * and returns its JSON reply ({"jobs": [...]}); synchronous, bounded by the
 * session timeout. */
int32_t ell_session_recovery(ell_session_t s, const char *address, const char *request, size_t len, ell_json *out,
			     ell_error *err);

/* Statistics (MONITOR_STAT) of the node at address, or of every node of the
 * route table when address is NULL, for the categories given (bits as in
 * docs/monitoring.md; UINT64_MAX for all). The reply is a JSON array, one
 * object per node in address order: {"address": "host:port", "stats":
 * {...}} or {"address": ..., "error": {"code": C, "message": M}}. The call
 * fails only if every node failed (or the one named did). */
int32_t ell_session_monitor_stat(ell_session_t s, const char *address, uint64_t categories, ell_json *out,
				 ell_error *err);

/* ---- server-side scripts (EXEC) ------------------------------------------ */

/* Scripts are Starlark programs stored in the cluster (in every group) and
 * run by EXEC on a node, next to the data (core/script). Every call of
 * this section is synchronous and answers in JSON (free with ell_json_free).
 * Script failures are status codes like any other: a steps, bytes or memory
 * budget exceeded is ELL_EMSGSIZE, the time limit ELL_ETIMEDOUT, a compile
 * error, a missing function or a runtime failure of the script ELL_EINVAL,
 * a missing script ELL_ENOENT. */

/* Lowers the node's script limits for one call; zero fields keep the
 * node's (a node never raises its limits for a caller). */
typedef struct ell_exec_limits {
	uint64_t steps;        /* Starlark steps */
	int64_t timeout_ms;    /* wall time of the run; < 0: ELL_EINVAL */
	uint64_t read_bytes;   /* bytes the script may read */
	uint64_t write_bytes;  /* bytes the script may write */
	uint64_t result_bytes; /* size of the function's result */
	uint64_t memory;       /* heap bytes */
} ell_exec_limits;

/* Runs event ("script@function", a script stored with ell_session_script_put)
 * with data as the function's input.
 * - key set: on the node that owns the key (the session's groups tried in
 *   read order, the next only when a node cannot be reached, never after the
 *   script ran); the reply is one object
 *     {"event": "s@f", "key": "name", "id": "<128 hex digits>",
 *      "address": "host:port", "group": 1, "data": "<base64>", "seconds": 0.001}
 *   and a script failure fails the call with its code.
 * - key NULL: a fan-out, once on every node of the route table (the script's
 *   key is None); the reply is an array of such objects in address order,
 *   "key" "" and "id" absent, a node that failed having
 *   "error": {"code": C, "message": M} (and no "data"). The call fails only
 *   if every node failed (with one failed node's code).
 * limits may be NULL. Bounded by the session timeout (per group tried). */
int32_t ell_session_exec(ell_session_t s, const ell_key *key, const char *event, const void *data, size_t len,
			 const ell_exec_limits *limits, ell_json *out, ell_error *err);

/* The job manager: runs event on the owner of every key (NUL-terminated
 * names), with data as input, concurrency at a time (<= 0: 16); a job whose
 * node is unreachable is retried in the session's next group. progress
 * (may be NULL) is called after each job with the jobs done and the total;
 * a non-OK return stops starting jobs and fails the call with its code.
 * The reply is an array with one object per key, in the order of keys,
 * shaped as ell_session_exec's, each job's failure in its "error". The call
 * fails only on bad arguments or when stopped; failed jobs are in the reply. */
int32_t ell_session_run_jobs(ell_session_t s, const char *event, const char *const *keys, size_t count,
			     const void *data, size_t len, int32_t concurrency, const ell_exec_limits *limits,
			     ell_progress progress, void *userdata, ell_json *out, ell_error *err);

/* Stores src (UTF-8 Starlark, at most 1 MiB) as the next version of script
 * name (version 1 for a new one) and tells every node to drop its cached
 * copy; a script that does not compile is refused (ELL_EINVAL). The reply:
 *   {"name": N, "version": V, "size": S, "updated": "RFC 3339", "sha256": H} */
int32_t ell_session_script_put(ell_session_t s, const char *name, const char *src, size_t len, ell_json *out,
			       ell_error *err);
/* Version `version` of script name (0: the latest): the object of
 * ell_session_script_put with "source" added; ELL_ENOENT when missing. */
int32_t ell_session_script_get(ell_session_t s, const char *name, uint64_t version, ell_json *out, ell_error *err);
/* Every stored script's latest version: an array of the objects of
 * ell_session_script_put, by name. */
int32_t ell_session_script_list(ell_session_t s, ell_json *out, ell_error *err);
/* Removes script name, every version of it (ELL_ENOENT when missing). */
int32_t ell_session_script_remove(ell_session_t s, const char *name, ell_error *err);

/* ---- watches (NOTIFY) ---------------------------------------------------- */

typedef uint64_t ell_watch_t; /* a watch on one key in every group of a session */

#define ELL_WATCH_WRITE 1   /* a write, append or commit of the key */
#define ELL_WATCH_REMOVE 2  /* a removal of the key or a column */
#define ELL_WATCH_MISSED 3  /* the node dropped `missed` events: the watcher read too slowly */
#define ELL_WATCH_STARTED 4 /* the watch is established on address for group_id */
#define ELL_WATCH_LOST 5    /* the watch on address ended (error says why); it is being re-established */

#define ELL_ADDRESS_MAX 128
#define ELL_COLUMN_MAX 256

typedef struct ell_watch_event {
	int32_t kind; /* ELL_WATCH_* */
	uint32_t group_id;
	uint8_t id[ELL_ID_SIZE];
	uint64_t size;	/* the column's size after a write */
	uint64_t tsec;	/* the record's timestamp after a write, the removal's time */
	uint64_t tnsec;
	uint64_t user_flags;
	uint64_t record_flags;
	uint64_t missed; /* events dropped just before this one */
	int32_t error;	 /* ELL_WATCH_LOST: the code of why */
	uint32_t reserved;
	char address[ELL_ADDRESS_MAX]; /* the node that reported it, NUL-terminated */
	char column[ELL_COLUMN_MAX];   /* "" = the default column */
} ell_watch_event;

/* Starts watching key in every group of the session (a snapshot of its
 * settings): every write and removal of it, wherever it lives, is reported.
 * queue is the events each node keeps for this watcher before dropping and
 * counting them (0: the node's default). Free with ell_watch_close. */
int32_t ell_session_watch(ell_session_t s, const ell_key *key, uint32_t queue, ell_watch_t *out, ell_error *err);

/* Waits up to timeout_ms (< 0: forever) for the next event: ELL_OK and *ev
 * set, ELL_ETIMEDOUT when none came, ELL_ECANCELED once the watch is closed. */
int32_t ell_watch_next(ell_watch_t w, int64_t timeout_ms, ell_watch_event *ev, ell_error *err);

/* Ends the watch on the nodes and frees the handle; a thread blocked in
 * ell_watch_next returns ELL_ECANCELED. */
void ell_watch_close(ell_watch_t w);

/* ---- results ------------------------------------------------------------- */

/* The outcome of one command in one group. Strings and data live until the
 * async handle is freed. */
typedef struct ell_entry {
	int32_t status; /* ELL_OK or a negative code */
	uint32_t group_id;
	int32_t backend_id; /* -1 when unknown */
	uint32_t reserved;
	uint64_t record_flags;
	const char *address; /* node that answered; "" if none could be reached */
	const char *error;   /* message when status != 0, else "" */
	uint8_t id[ELL_ID_SIZE];
	uint8_t checksum[ELL_ID_SIZE]; /* zero unless requested */
	const char *path;              /* where the backend keeps the object; may be "" */
	const char *column;            /* "" for the default column */
	uint64_t offset;               /* of the data in the object */
	uint64_t size;                 /* bytes written or read */
	uint64_t total_size;           /* whole object */
	uint64_t tsec, tnsec;          /* the object's timestamp */
	uint64_t user_flags;
	uint64_t key_index; /* index of the key in a bulk call, else 0 */
	const uint8_t *data; /* read data; NULL when none */
	uint64_t data_size;
} ell_entry;

/* More of an entry, beyond what ell_entry (whose layout is fixed) holds.
 * Every entry the library returns is followed in memory by its extension:
 * ell_entry_ext_of(e) is (const ell_entry_ext *)(e + 1), which bindings may
 * use directly. Fields may be added at the end in later versions. */
typedef struct ell_entry_ext {
	uint64_t expire_tsec, expire_tnsec; /* when the value expires; 0, 0: never */
	uint64_t count;                     /* count_range, remove_range: the records counted or removed */
	uint64_t iterator_id;               /* iterator entries: the iterator's id on its node (address) */
	uint64_t iterated_keys, total_keys; /* iterator entries: its progress when the entry was sent */
	uint32_t iterator_state;            /* iterator entries: ELL_ITERATOR_STATE_*, 0 when not reported */
	uint32_t reserved;
} ell_entry_ext;

/* The extension of an entry the library returned (NULL for NULL). */
const ell_entry_ext *ell_entry_ext_of(const ell_entry *e);

/* Waits until the operation completes: ELL_OK, or ELL_ETIMEDOUT if it is
 * still running after timeout_ms (<0: wait forever). Not the call's status. */
int32_t ell_async_wait(ell_async_t a, int64_t timeout_ms, ell_error *err);
/* 1 if the operation completed, else 0. */
int32_t ell_async_ready(ell_async_t a);
/* Waits for entry index to arrive (entries arrive in completion order):
 * ELL_OK with *out set; ELL_ENOENT once the operation completed with fewer
 * entries (the end); ELL_ETIMEDOUT if none arrived within timeout_ms. */
int32_t ell_async_next(ell_async_t a, size_t index, int64_t timeout_ms, const ell_entry **out, ell_error *err);
/* Entries arrived so far, and entry i of them (NULL past the end). */
size_t ell_async_count(ell_async_t a);
const ell_entry *ell_async_entry(ell_async_t a, size_t i);
/* The status of the whole call once it completed (the checker's verdict):
 * ELL_OK or a code with its message in err. ELL_EAGAIN if not complete. */
int32_t ell_async_status(ell_async_t a, ell_error *err);
/* Microseconds from the call to completion (so far, if still running). */
int64_t ell_async_elapsed_us(ell_async_t a);
/* Releases the handle and its entries. The operation, if still running,
 * goes on and its completion is dropped. */
void ell_async_free(ell_async_t a);

/* Everything a binding copies out of a completed operation, in one call. */
typedef struct ell_async_result {
	int32_t status; /* the call's status, as ell_async_status */
	uint32_t reserved;
	size_t count;       /* entries, as ell_async_count */
	int64_t elapsed_us; /* as ell_async_elapsed_us */
} ell_async_result;

/* Waits like ell_async_wait and returns what it returns. On ELL_OK (the
 * operation completed) it also fills *out and copies the first
 * min(out->count, cap) entry pointers to entries (which may be NULL when cap
 * is 0); when out->status is not ELL_OK, err receives its message. One call
 * instead of ell_async_wait, _status, _count, _entry and _elapsed_us: each
 * call into the library costs a thread hand-over in the Go runtime, which
 * dominates the small calls of a binding. */
int32_t ell_async_collect(ell_async_t a, int64_t timeout_ms, ell_async_result *out, const ell_entry **entries,
			  size_t cap, ell_error *err);

#ifdef __cplusplus
}
#endif

#endif /* ELLIPTICS_H */
