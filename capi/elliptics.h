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
