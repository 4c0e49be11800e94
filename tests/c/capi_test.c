/*
 * capi_test.c: exercises every function of elliptics.h against a real
 * cluster. Plain C11, no dependencies besides libelliptics and libpthread.
 *
 *   capi_test ADDR1 ADDR2 ADDR3
 *
 * ADDRn is the "host:port" of a node serving group n (one node per group).
 * Prints every failed check and exits 1 if there was any, else prints "ok"
 * and exits 0. tests/e2e/capi_test.go builds and runs it.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "elliptics.h"

static int failures;
static const char *addrs[3];
/* Every key of a run lives in a namespace of its own, so runs against the
 * same cluster (again, or at once) do not see each other's keys. */
static char run_ns[64];

#define CHECK(cond, ...)                                                                 \
	do {                                                                             \
		if (!(cond)) {                                                           \
			failures++;                                                      \
			fprintf(stderr, "FAIL %s:%d: %s: ", __func__, __LINE__, #cond);  \
			fprintf(stderr, __VA_ARGS__);                                    \
			fputc('\n', stderr);                                             \
		}                                                                        \
	} while (0)

/* CHECK_RC checks a status (evaluated once), printing the error's message
 * on failure. */
#define CHECK_RC(rc, want, e) check_rc(__func__, __LINE__, #rc, (rc), (want), &(e))

static void check_rc(const char *func, int line, const char *expr, int32_t rc, int32_t want, const ell_error *e)
{
	if (rc == want)
		return;
	failures++;
	fprintf(stderr, "FAIL %s:%d: %s: got %d (%s), want %d (%s); message: %s\n", func, line, expr, (int)rc,
		ell_strerror(rc), (int)want, ell_strerror(want), e->message);
}

static ell_key name_key(const char *name)
{
	ell_key k;
	memset(&k, 0, sizeof(k));
	k.name = name;
	k.name_len = strlen(name);
	return k;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* finish waits for a, returns its status and fills e with it. */
static int32_t finish(ell_async_t a, ell_error *e)
{
	int32_t rc = ell_async_wait(a, 30000, e);
	if (rc != ELL_OK)
		return rc;
	return ell_async_status(a, e);
}

/* write_sync writes and returns the call's status. */
static int32_t write_sync(ell_session_t s, const ell_key *k, const void *data, uint64_t size, uint64_t offset,
			  ell_error *e)
{
	ell_async_t a = 0;
	int32_t rc = ell_session_write_data(s, k, data, size, offset, NULL, &a, e);
	if (rc != ELL_OK)
		return rc;
	rc = finish(a, e);
	ell_async_free(a);
	return rc;
}

/* read_sync reads into a malloc'd buffer (*out, *len; NULL/0 when none). */
static int32_t read_sync(ell_session_t s, const ell_key *k, uint64_t offset, uint64_t size, uint8_t **out,
			 uint64_t *len, ell_error *e)
{
	ell_async_t a = 0;
	*out = NULL;
	*len = 0;
	int32_t rc = ell_session_read_data(s, k, offset, size, NULL, &a, e);
	if (rc != ELL_OK)
		return rc;
	rc = finish(a, e);
	if (rc == ELL_OK) {
		const ell_entry *en = ell_async_entry(a, 0);
		if (en == NULL) {
			rc = ELL_EIO;
		} else {
			*len = en->data_size;
			*out = malloc(en->data_size ? en->data_size : 1);
			if (en->data_size)
				memcpy(*out, en->data, en->data_size);
		}
	}
	ell_async_free(a);
	return rc;
}

static int is_cluster_addr(const char *a)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(a, addrs[i]) == 0)
			return 1;
	return 0;
}

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void hex(const uint8_t *id, char out[2 * ELL_ID_SIZE + 1])
{
	for (int i = 0; i < ELL_ID_SIZE; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_version(void)
{
	CHECK(strcmp(ell_version(), "0.1.0") == 0, "version %s", ell_version());
	CHECK(ell_abi_version() == ELL_ABI_VERSION, "abi %d", ell_abi_version());
	CHECK(strcmp(ell_strerror(ELL_ENOENT), "no such key") == 0, "%s", ell_strerror(ELL_ENOENT));
	CHECK(strcmp(ell_strerror(ELL_OK), "ok") == 0, "%s", ell_strerror(ELL_OK));
	CHECK(ell_strerror(ELL_ECANCELED)[0] != 0, "empty");
	CHECK(ell_strerror(12345) != NULL && ell_strerror(12345)[0] != 0, "unknown code");
}

static void test_bad_handles(ell_session_t live_session)
{
	ell_error e;
	ell_session_t s = 0;
	ell_async_t a = 0;
	ell_queue_t q = 0;
	uint32_t g = 1;
	ell_key k = name_key("x");
	const ell_entry *en = NULL;

	memset(&e, 0, sizeof(e));
	CHECK_RC(ell_session_new(0, &s, &e), ELL_EINVAL, e);
	CHECK(e.code == ELL_EINVAL && e.message[0] != 0, "ell_error filled: code %d message '%s'", e.code, e.message);
	CHECK(s == 0, "out stays 0");
	CHECK_RC(ell_session_new(live_session, &s, &e), ELL_EINVAL, e); /* a session is not a node */
	CHECK_RC(ell_session_set_groups(987654321, &g, 1, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_set_groups(987654321, &g, 1, NULL), ELL_EINVAL, e); /* err may be NULL */
	CHECK_RC(ell_session_write_data(0, &k, "v", 1, 0, NULL, &a, &e), ELL_EINVAL, e);
	CHECK(a == 0, "no handle on failure");
	CHECK_RC(ell_async_wait(0, 0, &e), ELL_EINVAL, e);
	CHECK_RC(ell_async_status(live_session, &e), ELL_EINVAL, e);
	CHECK_RC(ell_async_next(42, 0, 0, &en, &e), ELL_EINVAL, e);
	ell_async_result ar;
	CHECK_RC(ell_async_collect(0, 0, &ar, NULL, 0, &e), ELL_EINVAL, e);
	CHECK(ell_async_ready(0) == 0, "ready");
	CHECK(ell_async_count(0) == 0, "count");
	CHECK(ell_async_entry(0, 0) == NULL, "entry");
	CHECK(ell_async_elapsed_us(0) < 0, "elapsed");
	CHECK_RC(ell_queue_pop(0, 0, NULL, NULL, &e), ELL_EINVAL, e);
	CHECK(ell_queue_fd(0) == -1, "queue fd");
	CHECK_RC(ell_node_add_remotes(0, addrs, 1, &e), ELL_EINVAL, e);
	CHECK_RC(ell_node_set_timeouts(0, 1, 1, &e), ELL_EINVAL, e);
	CHECK_RC(ell_node_set_tls(0, NULL, NULL, NULL, NULL, &e), ELL_EINVAL, e);
	ell_route_list rl;
	CHECK_RC(ell_node_routes(0, &rl, &e), ELL_EINVAL, e);
	CHECK(rl.routes == NULL && rl.count == 0, "empty list on failure");
	CHECK(ell_session_get_checker(0) == ELL_EINVAL, "get_checker");
	CHECK(ell_session_get_filter(0) == ELL_EINVAL, "get_filter");
	CHECK(ell_session_get_timeout(0) == ELL_EINVAL, "get_timeout");
	CHECK(ell_session_get_groups(0, &g, 1) == 0, "get_groups");
	CHECK(ell_session_get_namespace(0, NULL, 0) == 0, "get_namespace");
	uint64_t ts = 7, tn = 7;
	ell_session_get_timestamp(0, &ts, &tn);
	/* Freeing bad handles is harmless. */
	ell_async_free(0);
	ell_async_free(99999999);
	ell_session_free(0);
	ell_queue_free(0);
	ell_node_close(0);
	ell_route_list_free(NULL);

	/* Use after free and double free. */
	CHECK_RC(ell_session_clone(live_session, &s, &e), ELL_OK, e);
	ell_session_free(s);
	CHECK_RC(ell_session_set_timeout(s, 10, &e), ELL_EINVAL, e);
	ell_session_free(s);
	CHECK_RC(ell_queue_new(&q, &e), ELL_OK, e);
	ell_queue_free(q);
	CHECK_RC(ell_queue_pop(q, 0, NULL, NULL, &e), ELL_EINVAL, e);
	/* NULL arguments. */
	CHECK_RC(ell_session_write_data(live_session, NULL, "v", 1, 0, NULL, &a, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_write_data(live_session, &k, NULL, 1, 0, NULL, &a, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_write_data(live_session, &k, "v", 1, 0, NULL, NULL, &e), ELL_EINVAL, e);
	ell_key empty = name_key("");
	CHECK_RC(ell_session_read_data(live_session, &empty, 0, 0, NULL, &a, &e), ELL_EINVAL, e);
	ell_completion bad = {NULL, NULL, 77777777, 0};
	CHECK_RC(ell_session_lookup(live_session, &k, &bad, &a, &e), ELL_EINVAL, e);
}

static void test_settings(ell_node_t n, ell_session_t s)
{
	ell_error e;
	uint32_t groups[3] = {1, 2, 3}, got[8];
	char ns[16];

	CHECK_RC(ell_session_set_groups(s, groups, 3, &e), ELL_OK, e);
	CHECK(ell_session_get_groups(s, got, 8) == 3 && got[0] == 1 && got[1] == 2 && got[2] == 3, "groups");
	CHECK(ell_session_get_groups(s, got, 1) == 3 && got[0] == 1, "groups, short buffer");
	uint32_t zero = 0;
	CHECK_RC(ell_session_set_groups(s, &zero, 1, &e), ELL_EINVAL, e);

	CHECK(ell_session_get_timeout(s) == 5000, "default timeout %lld", (long long)ell_session_get_timeout(s));
	CHECK_RC(ell_session_set_timeout(s, 1234, &e), ELL_OK, e);
	CHECK(ell_session_get_timeout(s) == 1234, "timeout");
	CHECK_RC(ell_session_set_timeout(s, -1, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_set_timeout(s, 0, &e), ELL_OK, e);
	CHECK(ell_session_get_timeout(s) == 5000, "timeout 0 restores the node default");

	CHECK_RC(ell_session_set_cflags(s, 0, &e), ELL_OK, e);
	CHECK(ell_session_get_cflags(s) == 0, "cflags");
	CHECK_RC(ell_session_set_ioflags(s, 0, &e), ELL_OK, e);
	CHECK(ell_session_get_ioflags(s) == 0, "ioflags");
	CHECK(ell_session_get_user_flags(s) == 0, "user flags default");
	CHECK_RC(ell_session_set_trace_id(s, 0xabcdef, &e), ELL_OK, e);
	CHECK(ell_session_get_trace_id(s) == 0xabcdef, "trace id");
	CHECK_RC(ell_session_set_trace_id(s, 0, &e), ELL_OK, e);

	uint64_t ts = 1, tn = 1;
	ell_session_get_timestamp(s, &ts, &tn);
	CHECK(ts == 0 && tn == 0, "timestamp default");
	CHECK_RC(ell_session_set_timestamp(s, 0, 2000000000, &e), ELL_EINVAL, e);

	CHECK(ell_session_get_namespace(s, ns, sizeof(ns)) == 0, "no namespace");
	CHECK_RC(ell_session_set_namespace(s, "space", 5, &e), ELL_OK, e);
	CHECK(ell_session_get_namespace(s, ns, 3) == 5 && memcmp(ns, "spa", 3) == 0, "namespace, short buffer");
	CHECK_RC(ell_session_set_namespace(s, NULL, 0, &e), ELL_OK, e);

	CHECK(ell_session_get_checker(s) == ELL_CHECKER_AT_LEAST_ONE, "checker default");
	CHECK(ell_session_get_filter(s) == ELL_FILTER_POSITIVE, "filter default");
	CHECK_RC(ell_session_set_checker(s, 99, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_set_filter(s, -1, &e), ELL_EINVAL, e);
	for (int32_t c = ELL_CHECKER_NO_CHECK; c <= ELL_CHECKER_QUORUM; c++) {
		CHECK_RC(ell_session_set_checker(s, c, &e), ELL_OK, e);
		CHECK(ell_session_get_checker(s) == c, "checker %d", c);
	}
	CHECK_RC(ell_session_set_checker(s, ELL_CHECKER_AT_LEAST_ONE, &e), ELL_OK, e);

	/* A clone copies the settings and is independent. */
	ell_session_t c = 0;
	CHECK_RC(ell_session_set_user_flags(s, 77, &e), ELL_OK, e);
	CHECK_RC(ell_session_clone(s, &c, &e), ELL_OK, e);
	CHECK(ell_session_get_user_flags(c) == 77, "clone copies");
	CHECK_RC(ell_session_set_user_flags(c, 78, &e), ELL_OK, e);
	CHECK(ell_session_get_user_flags(s) == 77, "clone is independent");
	CHECK_RC(ell_session_set_user_flags(s, 0, &e), ELL_OK, e);
	ell_session_free(c);

	/* set_timeouts changes the default of sessions made afterwards. */
	CHECK_RC(ell_node_set_timeouts(n, 3000, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_new(n, &c, &e), ELL_OK, e);
	CHECK(ell_session_get_timeout(c) == 3000, "new default %lld", (long long)ell_session_get_timeout(c));
	CHECK(ell_session_get_timeout(s) == 5000, "older sessions keep theirs");
	ell_session_free(c);
	CHECK_RC(ell_node_set_timeouts(n, 5000, 0, &e), ELL_OK, e);
	CHECK_RC(ell_node_set_timeouts(n, -1, 0, &e), ELL_EINVAL, e);

	/* set_tls reads its files at once; a bad one leaves the node on TCP. */
	CHECK_RC(ell_node_set_tls(n, "/nonexistent/ca.crt", NULL, NULL, NULL, &e), ELL_EINVAL, e);
	CHECK(strstr(e.message, "/nonexistent/ca.crt") != NULL, "set_tls names the file: %s", e.message);
	CHECK_RC(ell_node_set_tls(n, NULL, "/nonexistent/c.crt", NULL, NULL, &e), ELL_EINVAL, e);
}

static void test_round_trip(ell_session_t s)
{
	ell_error e;
	uint8_t data[512];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i % 256); /* includes NUL bytes */
	ell_key k = name_key("capi-binary");
	ell_async_t a = 0;

	CHECK_RC(ell_session_write_data(s, &k, data, sizeof(data), 0, NULL, &a, &e), ELL_OK, e);
	CHECK(a != 0, "handle");
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_ready(a) == 1, "ready");
	CHECK(ell_async_count(a) == 3, "one entry per group: %zu", ell_async_count(a));
	CHECK(ell_async_elapsed_us(a) > 0, "elapsed");
	int seen = 0;
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		CHECK(en->status == ELL_OK, "status %d", en->status);
		CHECK(en->group_id >= 1 && en->group_id <= 3, "group %u", en->group_id);
		seen |= 1 << en->group_id;
		CHECK(strcmp(en->address, addrs[en->group_id - 1]) == 0, "group %u answered by %s", en->group_id,
		      en->address);
		CHECK(en->error != NULL && en->error[0] == 0, "no error text");
		CHECK(en->backend_id >= 0, "backend %d", en->backend_id);
		CHECK(en->total_size == sizeof(data), "total %llu", (unsigned long long)en->total_size);
		CHECK(en->tsec > 0, "timestamp");
		CHECK(en->column != NULL && en->column[0] == 0, "default column");
		CHECK(en->key_index == 0, "key index");
	}
	CHECK(seen == 0xe, "groups seen %x", seen);
	ell_async_free(a);

	uint8_t *got;
	uint64_t len;
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == sizeof(data) && got && memcmp(got, data, len) == 0, "read back %llu bytes", (unsigned long long)len);
	free(got);

	/* The caller's buffers are free at once: the library copied them. */
	char buf[8] = "before";
	ell_key k2 = name_key("capi-copied");
	char name[16] = "capi-copied";
	k2.name = name;
	CHECK_RC(ell_session_write_data(s, &k2, buf, 6, 0, NULL, &a, &e), ELL_OK, e);
	memcpy(buf, "AFTER!", 6);
	memcpy(name, "XXXX", 4);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);
	k2 = name_key("capi-copied");
	CHECK_RC(read_sync(s, &k2, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 6 && memcmp(got, "before", 6) == 0, "data copied at call time");
	free(got);

	/* Entries by next() are the same pointers as by entry(). */
	CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &a, &e), ELL_OK, e);
	const ell_entry *en = NULL;
	CHECK_RC(ell_async_next(a, 0, 10000, &en, &e), ELL_OK, e);
	CHECK(en != NULL && en == ell_async_entry(a, 0), "stable entry pointer");
	CHECK(en && en->group_id == 1 && en->data_size == sizeof(data), "read from the first group");
	CHECK_RC(ell_async_next(a, 1, 10000, &en, &e), ELL_ENOENT, e);
	CHECK(ell_async_entry(a, 1) == NULL, "past the end");
	ell_async_free(a);
}

static void test_offsets(ell_session_t s)
{
	ell_error e;
	ell_key k = name_key("capi-offsets");
	uint8_t *got;
	uint64_t len;
	CHECK_RC(write_sync(s, &k, "0123456789", 10, 0, &e), ELL_OK, e);
	CHECK_RC(write_sync(s, &k, "ab", 2, 3, &e), ELL_OK, e);
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 10 && memcmp(got, "012ab56789", 10) == 0, "overwrite at offset: %.*s", (int)len, got);
	free(got);
	CHECK_RC(read_sync(s, &k, 2, 3, &got, &len, &e), ELL_OK, e);
	CHECK(len == 3 && memcmp(got, "2ab", 3) == 0, "read at offset");
	free(got);
	CHECK_RC(read_sync(s, &k, 7, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 3 && memcmp(got, "789", 3) == 0, "read to the end");
	free(got);

	ell_async_t a;
	CHECK_RC(ell_session_read_data(s, &k, 2, 3, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	const ell_entry *en = ell_async_entry(a, 0);
	CHECK(en && en->offset == 2 && en->size == 3 && en->total_size == 10, "entry offset/size/total");
	ell_async_free(a);
}

static void test_lookup_remove(ell_session_t s)
{
	ell_error e;
	ell_key k = name_key("capi-lookup");
	ell_async_t a;
	CHECK_RC(write_sync(s, &k, "hello", 5, 0, &e), ELL_OK, e);

	CHECK_RC(ell_session_lookup(s, &k, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 1, "one entry");
	const ell_entry *en = ell_async_entry(a, 0);
	CHECK(en && en->total_size == 5 && en->tsec > 0 && is_cluster_addr(en->address), "lookup entry");
	CHECK(en && en->data == NULL && en->data_size == 0, "no data in a lookup");
	ell_async_free(a);

	CHECK_RC(ell_session_remove(s, &k, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 3, "one entry per group");
	ell_async_free(a);

	memset(&e, 0, sizeof(e));
	CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ENOENT, e);
	CHECK(e.code == ELL_ENOENT && strlen(e.message) > 0, "message: '%s'", e.message);
	CHECK(ell_async_count(a) == 0, "no positive entry");
	ell_async_free(a);

	/* With every entry: one negative entry per group tried. */
	ell_session_t all;
	CHECK_RC(ell_session_clone(s, &all, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_filter(all, ELL_FILTER_ALL, &e), ELL_OK, e);
	CHECK_RC(ell_session_lookup(all, &k, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ENOENT, e);
	CHECK(ell_async_count(a) == 3, "%zu entries", ell_async_count(a));
	for (size_t i = 0; i < ell_async_count(a); i++) {
		en = ell_async_entry(a, i);
		CHECK(en->status == ELL_ENOENT && en->error[0] != 0, "negative entry %d '%s'", en->status, en->error);
	}
	ell_async_free(a);
	ell_session_free(all);
}

static void test_read_latest(ell_session_t s)
{
	ell_error e;
	ell_key k = name_key("capi-latest");
	ell_session_t w;
	uint32_t g12[2] = {1, 2}, g3 = 3;
	CHECK_RC(ell_session_clone(s, &w, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(w, g12, 2, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_timestamp(w, 1600000000, 0, &e), ELL_OK, e);
	CHECK_RC(write_sync(w, &k, "old", 3, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(w, &g3, 1, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_timestamp(w, 1600000100, 7, &e), ELL_OK, e);
	uint64_t ts, tn;
	ell_session_get_timestamp(w, &ts, &tn);
	CHECK(ts == 1600000100 && tn == 7, "timestamp");
	CHECK_RC(write_sync(w, &k, "new", 3, 0, &e), ELL_OK, e);
	ell_session_free(w);

	uint8_t *got;
	uint64_t len;
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 3 && memcmp(got, "old", 3) == 0, "read takes the first group");
	free(got);

	ell_async_t a;
	CHECK_RC(ell_session_read_latest(s, &k, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	const ell_entry *en = ell_async_entry(a, 0);
	CHECK(ell_async_count(a) == 1 && en && en->group_id == 3 && en->data_size == 3 && memcmp(en->data, "new", 3) == 0,
	      "read_latest takes the newest");
	CHECK(en && en->tsec == 1600000100 && en->tnsec == 7, "its timestamp");
	ell_async_free(a);

	ell_key missing = name_key("capi-latest-missing");
	CHECK_RC(ell_session_read_latest(s, &missing, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ENOENT, e);
	ell_async_free(a);
}

static void test_namespaces_and_ids(ell_session_t s)
{
	ell_error e;
	ell_session_t na, nb;
	ell_key k = name_key("capi-ns");
	uint8_t *got;
	uint64_t len;
	CHECK_RC(ell_session_clone(s, &na, &e), ELL_OK, e);
	CHECK_RC(ell_session_clone(s, &nb, &e), ELL_OK, e);
	char nsa[80], nsb[80];
	snprintf(nsa, sizeof(nsa), "%s-a", run_ns);
	snprintf(nsb, sizeof(nsb), "%s-b", run_ns);
	CHECK_RC(ell_session_set_namespace(na, nsa, strlen(nsa), &e), ELL_OK, e);
	CHECK_RC(ell_session_set_namespace(nb, nsb, strlen(nsb), &e), ELL_OK, e);
	CHECK_RC(write_sync(na, &k, "A", 1, 0, &e), ELL_OK, e);
	CHECK_RC(read_sync(nb, &k, 0, 0, &got, &len, &e), ELL_ENOENT, e);
	free(got);
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &len, &e), ELL_ENOENT, e);
	free(got);
	CHECK_RC(write_sync(nb, &k, "B", 1, 0, &e), ELL_OK, e);
	CHECK_RC(read_sync(na, &k, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 1 && got[0] == 'A', "namespace a keeps its value");
	free(got);

	uint8_t ida[ELL_ID_SIZE], idb[ELL_ID_SIZE], id0[ELL_ID_SIZE], t[ELL_ID_SIZE];
	CHECK_RC(ell_session_key_id(na, &k, ida, &e), ELL_OK, e);
	CHECK_RC(ell_session_key_id(nb, &k, idb, &e), ELL_OK, e);
	CHECK_RC(ell_session_key_id(s, &k, id0, &e), ELL_OK, e);
	CHECK(memcmp(ida, idb, ELL_ID_SIZE) != 0 && memcmp(ida, id0, ELL_ID_SIZE) != 0, "namespaces give other IDs");
	/* transform of the name is the key's ID, namespace included. */
	CHECK_RC(ell_session_transform(na, "capi-ns", 7, t, &e), ELL_OK, e);
	CHECK(memcmp(t, ida, ELL_ID_SIZE) == 0, "transform = key_id in a namespace");
	CHECK_RC(ell_session_transform(s, "capi-ns", 7, t, &e), ELL_OK, e);
	CHECK(memcmp(t, id0, ELL_ID_SIZE) == 0, "transform = key_id");

	/* SHA-512 of nothing, without a namespace. */
	static const char sha512_empty[] = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
					   "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	char h[2 * ELL_ID_SIZE + 1];
	ell_session_t plain;
	CHECK_RC(ell_session_clone(s, &plain, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_namespace(plain, NULL, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_transform(plain, "", 0, t, &e), ELL_OK, e);
	hex(t, h);
	CHECK(strcmp(h, sha512_empty) == 0, "transform(\"\") = %s", h);
	CHECK_RC(ell_session_transform(plain, NULL, 0, t, &e), ELL_OK, e);
	hex(t, h);
	CHECK(strcmp(h, sha512_empty) == 0, "transform(NULL, 0)");
	CHECK_RC(ell_session_transform(na, "", 0, t, &e), ELL_OK, e);
	hex(t, h);
	CHECK(strcmp(h, sha512_empty) != 0, "a namespace changes the transform");
	ell_session_free(plain);

	/* A raw ID key addresses the same object as the name it came from. */
	ell_key raw;
	memset(&raw, 0, sizeof(raw));
	raw.has_id = 1;
	memcpy(raw.id, ida, ELL_ID_SIZE);
	CHECK_RC(read_sync(s, &raw, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 1 && got && got[0] == 'A', "raw id reads the namespaced object");
	free(got);
	uint8_t back[ELL_ID_SIZE];
	CHECK_RC(ell_session_key_id(nb, &raw, back, &e), ELL_OK, e);
	CHECK(memcmp(back, ida, ELL_ID_SIZE) == 0, "a raw ID ignores the namespace");
	memset(raw.id, 0x5a, ELL_ID_SIZE);
	CHECK_RC(write_sync(s, &raw, "raw", 3, 0, &e), ELL_OK, e);
	CHECK_RC(read_sync(s, &raw, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 3 && memcmp(got, "raw", 3) == 0, "raw id round trip");
	free(got);

	/* Columns are separate values of one object. */
	ell_key col = name_key("capi-ns");
	col.column = "meta";
	col.column_len = 4;
	CHECK_RC(write_sync(s, &col, "M", 1, 0, &e), ELL_OK, e);
	CHECK_RC(read_sync(s, &col, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == 1 && got[0] == 'M', "column");
	free(got);

	ell_session_free(na);
	ell_session_free(nb);
}

static void test_checkers(ell_session_t s)
{
	ell_error e;
	ell_session_t c;
	uint32_t groups[4] = {1, 2, 3, 4}; /* group 4 does not exist */
	ell_key k = name_key("capi-checkers");
	ell_async_t a;
	CHECK_RC(ell_session_clone(s, &c, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(c, groups, 4, &e), ELL_OK, e);

	CHECK_RC(ell_session_set_checker(c, ELL_CHECKER_ALL, &e), ELL_OK, e);
	CHECK_RC(ell_session_write_data(c, &k, "v", 1, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ENXIO, e);
	CHECK(strlen(e.message) > 0, "checker message");
	CHECK(ell_async_count(a) == 3, "positive entries of the groups that worked: %zu", ell_async_count(a));
	ell_async_free(a);

	CHECK_RC(ell_session_set_checker(c, ELL_CHECKER_AT_LEAST_ONE, &e), ELL_OK, e);
	CHECK_RC(write_sync(c, &k, "v", 1, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_checker(c, ELL_CHECKER_QUORUM, &e), ELL_OK, e);
	CHECK_RC(write_sync(c, &k, "v", 1, 0, &e), ELL_OK, e); /* 3 of 4 */

	CHECK_RC(ell_session_set_filter(c, ELL_FILTER_NEGATIVE, &e), ELL_OK, e);
	CHECK_RC(ell_session_write_data(c, &k, "v", 1, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	const ell_entry *en = ell_async_entry(a, 0);
	CHECK(ell_async_count(a) == 1 && en && en->group_id == 4 && en->status != ELL_OK && en->error[0] != 0,
	      "the failed group only");
	ell_async_free(a);

	uint32_t only4 = 4;
	CHECK_RC(ell_session_set_groups(c, &only4, 1, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_checker(c, ELL_CHECKER_NO_CHECK, &e), ELL_OK, e);
	CHECK_RC(write_sync(c, &k, "v", 1, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_checker(c, ELL_CHECKER_AT_LEAST_ONE, &e), ELL_OK, e);
	CHECK_RC(write_sync(c, &k, "v", 1, 0, &e), ELL_ENXIO, e);
	ell_session_free(c);
}

struct cb_state {
	atomic_int calls;
	atomic_int bad_userdata;
};

static void on_done(ell_async_t a, void *userdata)
{
	struct cb_state *st = userdata;
	/* The operation is complete when the callback runs. */
	if (ell_async_ready(a) != 1 || ell_async_status(a, NULL) != ELL_OK)
		atomic_fetch_add(&st->bad_userdata, 1000);
	atomic_fetch_add(&st->calls, 1);
}

static void test_completion(ell_session_t s)
{
	enum { N = 200 };
	ell_error e;
	ell_queue_t q;
	struct cb_state st;
	atomic_init(&st.calls, 0);
	atomic_init(&st.bad_userdata, 0);
	static ell_async_t handles[N];
	static char names[N][32];
	static int seen[N];
	memset(seen, 0, sizeof(seen));

	CHECK_RC(ell_queue_new(&q, &e), ELL_OK, e);
	int fd = ell_queue_fd(q);
	CHECK(fd >= 0, "fd");
	uint64_t tag;
	ell_async_t got;
	int64_t t0 = now_ms();
	CHECK_RC(ell_queue_pop(q, 0, &tag, &got, &e), ELL_ETIMEDOUT, e);
	CHECK_RC(ell_queue_pop(q, 100, &tag, &got, &e), ELL_ETIMEDOUT, e);
	CHECK(now_ms() - t0 >= 90, "pop waited its timeout");
	struct pollfd p = {fd, POLLIN, 0};
	CHECK(poll(&p, 1, 0) == 0, "empty queue not readable");

	ell_completion done = {on_done, &st, q, 0};
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "capi-conc-%d", i);
		ell_key k = name_key(names[i]);
		done.tag = 1000 + (uint64_t)i;
		CHECK_RC(ell_session_write_data(s, &k, names[i], strlen(names[i]), 0, &done, &handles[i], &e), ELL_OK, e);
	}
	int popped = 0;
	int64_t deadline = now_ms() + 30000;
	while (popped < N && now_ms() < deadline) {
		p.revents = 0;
		int r = poll(&p, 1, 1000);
		if (r <= 0)
			continue;
		/* Drain what is there without waiting; the fd says when to come back. */
		while (ell_queue_pop(q, 0, &tag, &got, &e) == ELL_OK) {
			int i = (int)(tag - 1000);
			CHECK(i >= 0 && i < N && !seen[i], "tag %llu", (unsigned long long)tag);
			if (i < 0 || i >= N || seen[i])
				continue;
			seen[i] = 1;
			CHECK(got == handles[i], "handle of tag %d", i);
			CHECK(ell_async_ready(got) == 1, "posted when complete");
			CHECK_RC(ell_async_status(got, &e), ELL_OK, e);
			popped++;
		}
	}
	CHECK(popped == N, "popped %d of %d", popped, N);
	CHECK(atomic_load(&st.calls) == N, "callbacks %d", atomic_load(&st.calls));
	CHECK(atomic_load(&st.bad_userdata) == 0, "callback saw an incomplete operation");
	p.revents = 0;
	CHECK(poll(&p, 1, 0) == 0, "drained queue not readable");
	for (int i = 0; i < N; i++)
		ell_async_free(handles[i]);

	/* Read them back concurrently, waiting on each. */
	for (int i = 0; i < N; i++) {
		ell_key k = name_key(names[i]);
		CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &handles[i], &e), ELL_OK, e);
	}
	for (int i = 0; i < N; i++) {
		CHECK_RC(finish(handles[i], &e), ELL_OK, e);
		const ell_entry *en = ell_async_entry(handles[i], 0);
		CHECK(en && en->data_size == strlen(names[i]) && memcmp(en->data, names[i], en->data_size) == 0,
		      "value %d", i);
		ell_async_free(handles[i]);
	}

	/* A freed queue drops later completions; the handle is still freed by its owner. */
	ell_queue_t q2;
	CHECK_RC(ell_queue_new(&q2, &e), ELL_OK, e);
	ell_completion d2 = {NULL, NULL, q2, 5};
	ell_key k = name_key("capi-conc-0");
	ell_async_t a;
	CHECK_RC(ell_session_lookup(s, &k, &d2, &a, &e), ELL_OK, e);
	ell_queue_free(q2);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);
	ell_queue_free(q);
}

static void test_bulk(ell_session_t s)
{
	enum { N = 100, MISSING = 57 };
	ell_error e;
	static char names[N][32], values[N][32];
	ell_key keys[N];
	const void *datas[N];
	uint64_t sizes[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "capi-bulk-%d", i);
		snprintf(values[i], sizeof(values[i]), "value-%d", i);
		keys[i] = name_key(names[i]);
		datas[i] = values[i];
		sizes[i] = strlen(values[i]);
	}
	ell_async_t a;
	CHECK_RC(ell_session_bulk_write(s, keys, datas, sizes, N, NULL, &a, &e), ELL_OK, e);
	/* ell_async_collect: wait, status, count and entries in one call; a
	 * short array gets the first entries, the count is all of them. */
	ell_async_result ar;
	static const ell_entry *ents[3 * N];
	CHECK_RC(ell_async_collect(a, 10000, &ar, ents, 7, &e), ELL_OK, e);
	CHECK(ar.status == ELL_OK && ar.count == 3 * N && ar.elapsed_us >= 0, "collect: status %d count %zu",
	      ar.status, ar.count);
	for (size_t i = 0; i < 7; i++)
		CHECK(ents[i] == ell_async_entry(a, i), "collected entry %zu", i);
	CHECK_RC(ell_async_collect(a, 0, &ar, ents, 3 * N, &e), ELL_OK, e);
	CHECK(ents[3 * N - 1] == ell_async_entry(a, 3 * N - 1), "every entry collected");
	CHECK_RC(ell_async_collect(a, 0, NULL, NULL, 0, &e), ELL_EINVAL, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 3 * N, "entries of every key and group: %zu", ell_async_count(a));
	int per_key[N] = {0};
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		CHECK(en->key_index < N && en->status == ELL_OK, "entry %zu", i);
		if (en->key_index < N)
			per_key[en->key_index]++;
	}
	for (int i = 0; i < N; i++)
		CHECK(per_key[i] == 3, "key %d has %d entries", i, per_key[i]);
	ell_async_free(a);

	/* Read them back with one key that does not exist, iterating with next(). */
	keys[MISSING] = name_key("capi-bulk-missing");
	CHECK_RC(ell_session_bulk_read(s, keys, N, NULL, &a, &e), ELL_OK, e);
	int found[N] = {0}, n = 0;
	for (size_t i = 0;; i++) {
		const ell_entry *en;
		int32_t rc = ell_async_next(a, i, 10000, &en, &e);
		if (rc == ELL_ENOENT)
			break;
		CHECK_RC(rc, ELL_OK, e);
		if (rc != ELL_OK)
			break;
		n++;
		uint64_t ki = en->key_index;
		CHECK(ki < N && ki != MISSING && !found[ki], "key index %llu", (unsigned long long)ki);
		if (ki >= N)
			continue;
		found[ki] = 1;
		CHECK(en->data_size == strlen(values[ki]) && memcmp(en->data, values[ki], en->data_size) == 0,
		      "value of key %llu", (unsigned long long)ki);
	}
	CHECK(n == N - 1, "found %d keys", n);
	CHECK(ell_async_ready(a) == 1, "next() said the end: complete");
	CHECK_RC(ell_async_status(a, &e), ELL_OK, e);
	ell_async_free(a);

	/* Every key's outcome with ELL_FILTER_ALL: one negative entry. */
	ell_session_t all;
	CHECK_RC(ell_session_clone(s, &all, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_filter(all, ELL_FILTER_ALL, &e), ELL_OK, e);
	CHECK_RC(ell_session_bulk_read(all, keys, N, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == N, "%zu entries", ell_async_count(a));
	int negatives = 0;
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		if (en->status != ELL_OK) {
			negatives++;
			CHECK(en->key_index == MISSING && en->status == ELL_ENOENT, "negative entry of key %llu",
			      (unsigned long long)en->key_index);
		}
	}
	CHECK(negatives == 1, "%d negative entries", negatives);
	ell_async_free(a);
	ell_session_free(all);

	/* Nothing found: the call fails. */
	ell_key none[2] = {name_key("capi-bulk-none-1"), name_key("capi-bulk-none-2")};
	CHECK_RC(ell_session_bulk_read(s, none, 2, NULL, &a, &e), ELL_OK, e);
	e.message[0] = 0;
	CHECK_RC(ell_async_collect(a, 10000, &ar, NULL, 0, &e), ELL_OK, e);
	CHECK(ar.status == ELL_ENOENT && ar.count == 0 && e.code == ELL_ENOENT && e.message[0] != 0,
	      "collect of a failed call: status %d, message '%s'", ar.status, e.message);
	CHECK_RC(finish(a, &e), ELL_ENOENT, e);
	CHECK(ell_async_count(a) == 0, "no entries");
	ell_async_free(a);

	/* A bulk write fails when a key fails its checker. */
	ell_session_t bad;
	uint32_t groups[2] = {1, 4};
	CHECK_RC(ell_session_clone(s, &bad, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(bad, groups, 2, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_checker(bad, ELL_CHECKER_ALL, &e), ELL_OK, e);
	CHECK_RC(ell_session_bulk_write(bad, keys, datas, sizes, 5, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ENXIO, e);
	CHECK(ell_async_count(a) == 5, "the positive entries: %zu", ell_async_count(a));
	ell_async_free(a);
	ell_session_free(bad);

	/* Empty bulk calls complete at once. */
	CHECK_RC(ell_session_bulk_read(s, NULL, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);
}

/* The packed forms: names and values back to back, lengths in arrays. */
static void test_bulk_names(ell_session_t s)
{
	enum { N = 3 };
	ell_error e;
	ell_async_t a;
	const char names[] = "capi-packed-acapi-packed-bbcapi-packed-ccc";
	const uint64_t name_lens[N] = {13, 14, 15};
	const char data[] = "one\0twothree"; /* values may hold NUL bytes */
	const uint64_t sizes[N] = {4, 3, 5};
	CHECK_RC(ell_session_bulk_write_names(s, names, name_lens, data, sizes, N, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 3 * N, "entries of every key and group: %zu", ell_async_count(a));
	ell_async_free(a);

	/* Each value is under its own name: the single-key read agrees. */
	static const char *one[N] = {"capi-packed-a", "capi-packed-bb", "capi-packed-ccc"};
	static const char *want[N] = {"one\0", "two", "three"};
	for (int i = 0; i < N; i++) {
		ell_key k = name_key(one[i]);
		CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &a, &e), ELL_OK, e);
		CHECK_RC(finish(a, &e), ELL_OK, e);
		const ell_entry *en = ell_async_entry(a, 0);
		CHECK(en && en->data_size == sizes[i] && memcmp(en->data, want[i], sizes[i]) == 0, "value of %s", one[i]);
		ell_async_free(a);
	}

	/* Read back packed, the middle name missing (a shorter name_len). */
	const uint64_t short_lens[N] = {13, 13, 15};
	const char names2[] = "capi-packed-acapi-packed-bcapi-packed-ccc";
	CHECK_RC(ell_session_bulk_read_names(s, names2, short_lens, N, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 2, "two keys found: %zu", ell_async_count(a));
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		uint64_t ki = en->key_index;
		CHECK((ki == 0 || ki == 2) && en->data_size == sizes[ki] && memcmp(en->data, want[ki], sizes[ki]) == 0,
		      "packed read of key %llu", (unsigned long long)ki);
	}
	ell_async_free(a);

	/* Bad arguments fail at the call: no lengths, an empty name. */
	CHECK_RC(ell_session_bulk_read_names(s, names, NULL, N, NULL, &a, &e), ELL_EINVAL, e);
	CHECK(a == 0, "no handle on failure");
	const uint64_t empty_lens[2] = {13, 0};
	CHECK_RC(ell_session_bulk_read_names(s, names, empty_lens, 2, NULL, &a, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_bulk_write_names(s, names, name_lens, NULL, sizes, N, NULL, &a, &e), ELL_EINVAL, e);
	/* Empty calls complete at once. */
	CHECK_RC(ell_session_bulk_read_names(s, NULL, NULL, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);
}

static void test_large(ell_session_t s)
{
	const size_t size = 16u << 20;
	ell_error e;
	uint8_t *big = malloc(size);
	for (size_t i = 0; i < size; i++)
		big[i] = (uint8_t)((i * 2654435761u) >> 13);
	ell_key k = name_key("capi-16mib");
	ell_async_t a;
	CHECK_RC(ell_session_write_data(s, &k, big, size, 0, NULL, &a, &e), ELL_OK, e);
	/* A wait of 0 only looks: not done yet (most likely), or done. */
	int32_t rc = ell_async_wait(a, 0, &e);
	CHECK(rc == ELL_ETIMEDOUT || rc == ELL_OK, "wait(0) = %d", rc);
	if (rc == ELL_ETIMEDOUT)
		CHECK(ell_async_status(a, &e) == ELL_EAGAIN || ell_async_ready(a), "status while running");
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);

	uint8_t *got;
	uint64_t len;
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &len, &e), ELL_OK, e);
	CHECK(len == size && memcmp(got, big, size) == 0, "16 MiB back: %llu bytes", (unsigned long long)len);
	free(got);

	/* Freeing before completion: the write goes on, nothing leaks or crashes. */
	ell_key k2 = name_key("capi-16mib-freed");
	CHECK_RC(ell_session_write_data(s, &k2, big, size, 0, NULL, &a, &e), ELL_OK, e);
	ell_async_free(a);
	CHECK_RC(ell_async_wait(a, 0, &e), ELL_EINVAL, e);
	free(big);
	int64_t deadline = now_ms() + 20000;
	int present = 0;
	while (!present && now_ms() < deadline) {
		ell_async_t l;
		CHECK_RC(ell_session_lookup(s, &k2, NULL, &l, &e), ELL_OK, e);
		if (finish(l, &e) == ELL_OK) {
			const ell_entry *en = ell_async_entry(l, 0);
			present = en && en->total_size == size;
		}
		ell_async_free(l);
		if (!present) {
			struct timespec pause = {0, 20 * 1000 * 1000};
			nanosleep(&pause, NULL);
		}
	}
	CHECK(present, "the freed write completed");
}

/* silent_listener returns a listening socket that never answers. */
static int silent_listener(char *addr, size_t cap)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
		return -1;
	snprintf(addr, cap, "127.0.0.1:%d", ntohs(sa.sin_port));
	return fd;
}

static void test_timeouts_and_close(void)
{
	ell_error e;
	ell_node_config cfg;
	ell_node_config_init(&cfg);
	cfg.dial_timeout_ms = 300;
	ell_node_t n;
	CHECK_RC(ell_node_new(&cfg, &n, &e), ELL_OK, e);

	/* A node that accepts connections and never answers: the dial timeout. */
	char silent[64];
	int lfd = silent_listener(silent, sizeof(silent));
	CHECK(lfd >= 0, "listener");
	const char *sa[1] = {silent};
	int64_t t0 = now_ms();
	int32_t rc = ell_node_add_remotes(n, sa, 1, &e);
	int64_t took = now_ms() - t0;
	CHECK(rc != ELL_OK, "a silent node is not reachable");
	CHECK(rc == ELL_ETIMEDOUT, "rc %d (%s) %s", rc, ell_strerror(rc), e.message);
	CHECK(took < 3000, "add_remotes took %lld ms", (long long)took);
	const char *garbage[1] = {"not an address"};
	CHECK_RC(ell_node_add_remotes(n, garbage, 1, &e), ELL_EINVAL, e);

	CHECK_RC(ell_node_add_remotes(n, addrs, 3, &e), ELL_OK, e);
	ell_session_t s;
	CHECK_RC(ell_session_new(n, &s, &e), ELL_OK, e);
	uint32_t g = 1;
	CHECK_RC(ell_session_set_groups(s, &g, 1, &e), ELL_OK, e);
	ell_key k = name_key("capi-close");
	CHECK_RC(write_sync(s, &k, "x", 1, 0, &e), ELL_OK, e);

	/* Close cancels what is in flight and fails later calls. */
	enum { N = 50 };
	ell_async_t as[N];
	for (int i = 0; i < N; i++)
		CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &as[i], &e), ELL_OK, e);
	ell_node_close(n);
	for (int i = 0; i < N; i++) {
		rc = finish(as[i], &e);
		CHECK(rc == ELL_OK || rc == ELL_ECANCELED || rc == ELL_ECONNRESET, "in flight at close: %d %s", rc,
		      e.message);
		ell_async_free(as[i]);
	}
	ell_async_t a;
	CHECK_RC(ell_session_read_data(s, &k, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_ECANCELED, e);
	ell_async_free(a);
	CHECK_RC(ell_session_set_timeout(s, 100, &e), ELL_OK, e); /* still a valid handle */
	ell_session_t s2;
	CHECK_RC(ell_session_new(n, &s2, &e), ELL_EINVAL, e); /* the node handle is gone */
	ell_session_free(s);
	close(lfd);

	/* A bad config. */
	ell_node_config_init(&cfg);
	cfg.log_level = 42;
	cfg.log_file = "/dev/null";
	CHECK_RC(ell_node_new(&cfg, &n, &e), ELL_EINVAL, e);
	CHECK(n == 0, "no node");
}

static void test_routes(ell_node_t n, ell_session_t s)
{
	ell_error e;
	ell_route_list rl;
	CHECK_RC(ell_node_routes(n, &rl, &e), ELL_OK, e);
	CHECK(rl.count > 0 && rl.routes != NULL, "routes: %zu", rl.count);
	int groups = 0;
	for (size_t i = 0; i < rl.count; i++) {
		const ell_route *r = &rl.routes[i];
		CHECK(r->group_id >= 1 && r->group_id <= 3, "group %u", r->group_id);
		if (r->group_id >= 1 && r->group_id <= 3)
			CHECK(strcmp(r->address, addrs[r->group_id - 1]) == 0, "route of group %u at %s", r->group_id,
			      r->address);
		CHECK(r->backend_id >= 0, "backend");
		CHECK(!is_zero(r->id, ELL_ID_SIZE), "a point");
		groups |= 1 << r->group_id;
		if (i > 0) {
			const ell_route *p = &rl.routes[i - 1];
			CHECK(p->group_id < r->group_id ||
				      (p->group_id == r->group_id && memcmp(p->id, r->id, ELL_ID_SIZE) < 0),
			      "sorted at %zu", i);
		}
	}
	CHECK(groups == 0xe, "groups %x", groups);
	ell_route_list_free(&rl);
	CHECK(rl.routes == NULL && rl.count == 0, "freed list is empty");
	ell_route_list_free(&rl); /* twice is harmless */

	ell_node_config cfg;
	ell_node_config_init(&cfg);
	CHECK(cfg.wait_timeout_ms == 5000 && cfg.dial_timeout_ms == 5000 && cfg.check_timeout_ms == 5000 &&
		      cfg.proxy == 0 && cfg.log_level == ELL_LOG_ERROR && cfg.log_file == NULL && cfg.name == NULL,
	      "config defaults");

	char addr[64];
	int32_t backend = -7;
	ell_key k = name_key("capi-owner");
	for (uint32_t g = 1; g <= 3; g++) {
		CHECK_RC(ell_session_lookup_address(s, &k, g, addr, sizeof(addr), &backend, &e), ELL_OK, e);
		CHECK(strcmp(addr, addrs[g - 1]) == 0, "owner in group %u: %s", g, addr);
		CHECK(backend >= 0, "backend %d", backend);
	}
	CHECK(is_cluster_addr(addr), "%s", addr);
	CHECK_RC(ell_session_lookup_address(s, &k, 1, addr, 4, NULL, &e), ELL_EMSGSIZE, e);
	CHECK_RC(ell_session_lookup_address(s, &k, 99, addr, sizeof(addr), NULL, &e), ELL_ENXIO, e);

	/* lookup_address agrees with the node that answers a write. */
	ell_async_t a;
	CHECK_RC(ell_session_write_data(s, &k, "o", 1, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		CHECK_RC(ell_session_lookup_address(s, &k, en->group_id, addr, sizeof(addr), &backend, &e), ELL_OK, e);
		CHECK(strcmp(addr, en->address) == 0 && backend == en->backend_id, "owner of group %u", en->group_id);
	}
	ell_async_free(a);
}

/* ---- data operations (issue 6) -------------------------------------------- */

/* write_opts writes with options and returns the call's status. */
static int32_t write_opts(ell_session_t s, const ell_key *k, const void *data, uint64_t size,
			  const ell_write_options *o, ell_error *e)
{
	ell_async_t a = 0;
	int32_t rc = ell_session_write(s, k, data, size, o, NULL, &a, e);
	if (rc != ELL_OK)
		return rc;
	rc = finish(a, e);
	ell_async_free(a);
	return rc;
}

static int read_is(ell_session_t s, const ell_key *k, const char *want)
{
	ell_error e;
	uint8_t *got = NULL;
	uint64_t len = 0;
	int32_t rc = read_sync(s, k, 0, 0, &got, &len, &e);
	int ok = rc == ELL_OK && len == strlen(want) && memcmp(got, want, len) == 0;
	if (!ok)
		fprintf(stderr, "  read: rc %d, %.*s, want %s\n", (int)rc, (int)len, got ? (const char *)got : "", want);
	free(got);
	return ok;
}

static void test_write_options(ell_session_t s)
{
	ell_error e;
	ell_write_options o;
	ell_key k = name_key("capi-wopts");

	/* The original's offset example, then an append. */
	memset(&o, 0, sizeof(o));
	CHECK_RC(write_opts(s, &k, "55555", 5, &o, &e), ELL_OK, e);
	o.offset = 1;
	CHECK_RC(write_opts(s, &k, "43210", 5, &o, &e), ELL_OK, e);
	CHECK(read_is(s, &k, "543210"), "offset write");
	memset(&o, 0, sizeof(o));
	o.flags = ELL_WRITE_APPEND;
	CHECK_RC(write_opts(s, &k, "xyz", 3, &o, &e), ELL_OK, e);
	CHECK(read_is(s, &k, "543210xyz"), "append");
	CHECK_RC(write_opts(s, &k, "x", 1, NULL, &e), ELL_OK, e); /* NULL options: a plain write */
	CHECK(read_is(s, &k, "x"), "plain write");
	o.flags = 1u << 20;
	ell_async_t a = 1;
	CHECK_RC(ell_session_write(s, &k, "x", 1, &o, NULL, &a, &e), ELL_EINVAL, e);
	CHECK(a == 0, "no handle on a refused call");
	memset(&o, 0, sizeof(o));
	o.ttl_ms = -1;
	CHECK_RC(ell_session_write(s, &k, "x", 1, &o, NULL, &a, &e), ELL_EINVAL, e);

	/* Compare-and-swap by checksum: SHA-512 of the stored value (a session
	 * without a namespace transforms plain data). */
	ell_session_t plain;
	CHECK_RC(ell_session_clone(s, &plain, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_namespace(plain, "", 0, &e), ELL_OK, e);
	memset(&o, 0, sizeof(o));
	o.has_cas = 1;
	memset(o.cas, 0xab, sizeof(o.cas));
	CHECK_RC(write_opts(s, &k, "new", 3, &o, &e), ELL_EBADFD, e);
	CHECK(read_is(s, &k, "x"), "a CAS mismatch changes nothing");
	CHECK_RC(ell_session_transform(plain, "x", 1, o.cas, &e), ELL_OK, e);
	CHECK_RC(write_opts(s, &k, "new", 3, &o, &e), ELL_OK, e);
	CHECK(read_is(s, &k, "new"), "CAS with the right checksum");
	ell_key absent = name_key("capi-wopts-cas-absent");
	CHECK_RC(write_opts(s, &absent, "first", 5, &o, &e), ELL_OK, e); /* an absent key passes */
	ell_session_free(plain);

	/* Compare-and-swap by timestamp: an older write is refused. */
	ell_session_t old;
	CHECK_RC(ell_session_clone(s, &old, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_timestamp(old, 1000, 0, &e), ELL_OK, e);
	memset(&o, 0, sizeof(o));
	o.flags = ELL_WRITE_CAS_TIMESTAMP;
	CHECK_RC(write_opts(old, &k, "older", 5, &o, &e), ELL_EBADFD, e);
	CHECK(read_is(s, &k, "new"), "newer data kept");
	ell_session_free(old);

	/* A chunked upload is invisible until its commit. */
	ell_key up = name_key("capi-wopts-upload");
	uint8_t *got;
	uint64_t len;
	memset(&o, 0, sizeof(o));
	o.flags = ELL_WRITE_PREPARE;
	o.total_size = 10;
	CHECK_RC(write_opts(s, &up, "01234", 5, &o, &e), ELL_OK, e);
	CHECK_RC(read_sync(s, &up, 0, 0, &got, &len, &e), ELL_ENOENT, e);
	memset(&o, 0, sizeof(o));
	o.flags = ELL_WRITE_PLAIN;
	o.offset = 5;
	CHECK_RC(write_opts(s, &up, "56", 2, &o, &e), ELL_OK, e);
	CHECK_RC(read_sync(s, &up, 0, 0, &got, &len, &e), ELL_ENOENT, e);
	o.flags = ELL_WRITE_COMMIT;
	o.offset = 7;
	o.total_size = 10;
	CHECK_RC(write_opts(s, &up, "789", 3, &o, &e), ELL_OK, e);
	CHECK(read_is(s, &up, "0123456789"), "committed upload");

	/* A lifetime: visible with its expiry, then gone. */
	ell_key t = name_key("capi-wopts-ttl");
	memset(&o, 0, sizeof(o));
	o.ttl_ms = 1500;
	CHECK_RC(write_opts(s, &t, "short", 5, &o, &e), ELL_OK, e);
	CHECK_RC(ell_session_read_data(s, &t, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	const ell_entry *en = ell_async_entry(a, 0);
	const ell_entry_ext *x = ell_entry_ext_of(en);
	CHECK(en && x == (const ell_entry_ext *)(en + 1), "the extension follows the entry");
	CHECK(x && x->expire_tsec > (uint64_t)time(NULL) - 5 && x->expire_tsec < (uint64_t)time(NULL) + 10,
	      "expiry %llu", x ? (unsigned long long)x->expire_tsec : 0ULL);
	ell_async_free(a);
	CHECK(ell_entry_ext_of(NULL) == NULL, "NULL entry");
	struct timespec nap = {2, 0};
	nanosleep(&nap, NULL);
	CHECK_RC(read_sync(s, &t, 0, 0, &got, &len, &e), ELL_ENOENT, e);
}

struct conv_state {
	int calls;
	int fail;
	char buf[256];
};

/* Appends "+" to the current value (absent: ""). */
static int32_t plus_converter(void *userdata, const void *current, uint64_t size, int32_t exists, const void **out,
			      uint64_t *out_size)
{
	struct conv_state *st = userdata;
	st->calls++;
	if (st->fail)
		return ELL_EPERM;
	if (!exists && (current != NULL || size != 0))
		return ELL_EINVAL;
	if (size + 1 > sizeof(st->buf))
		return ELL_EMSGSIZE;
	if (size)
		memcpy(st->buf, current, size);
	st->buf[size] = '+';
	*out = st->buf;
	*out_size = size + 1;
	return ELL_OK;
}

static void test_write_cas(ell_session_t s)
{
	ell_error e;
	ell_async_t a;
	ell_key k = name_key("capi-write-cas");
	struct conv_state st;
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 3; i++) {
		CHECK_RC(ell_session_write_cas(s, &k, plus_converter, &st, 0, 0, NULL, &a, &e), ELL_OK, e);
		CHECK_RC(finish(a, &e), ELL_OK, e);
		CHECK(ell_async_count(a) == 3, "one entry per group: %zu", ell_async_count(a));
		ell_async_free(a);
	}
	CHECK(read_is(s, &k, "+++"), "three read-modify-writes");
	CHECK(st.calls == 3, "converter calls: %d", st.calls);
	st.fail = 1;
	CHECK_RC(ell_session_write_cas(s, &k, plus_converter, &st, 0, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_EPERM, e);
	ell_async_free(a);
	CHECK(read_is(s, &k, "+++"), "a failing converter writes nothing");
	CHECK_RC(ell_session_write_cas(s, &k, NULL, NULL, 0, 0, NULL, &a, &e), ELL_EINVAL, e);
}

/* range_key is the raw key of record i of the range tests: a prefix of this
 * run, then i. */
static ell_key range_key(const uint8_t prefix[8], int i)
{
	ell_key k;
	memset(&k, 0, sizeof(k));
	k.has_id = 1;
	memcpy(k.id, prefix, 8);
	k.id[8] = (uint8_t)i;
	k.id[63] = 1;
	return k;
}

static void prefix_range(const uint8_t prefix[8], ell_range *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->start, prefix, 8);
	memcpy(r->end, prefix, 8);
	memset(r->end + 8, 0xff, ELL_ID_SIZE - 8);
}

static uint64_t count_of(ell_async_t a)
{
	const ell_entry *en = ell_async_entry(a, 0);
	return en ? ell_entry_ext_of(en)->count : (uint64_t)-1;
}

static void test_iterator(ell_session_t g1, const uint8_t prefix[8]);
static void test_server_send(ell_session_t g1, const uint8_t prefix[8]);

static void test_ranges(ell_session_t s)
{
	ell_error e;
	ell_async_t a;
	ell_session_t g1;
	CHECK_RC(ell_session_clone(s, &g1, &e), ELL_OK, e);
	uint32_t one = 1;
	CHECK_RC(ell_session_set_groups(g1, &one, 1, &e), ELL_OK, e);
	uint8_t prefix[8];
	uint64_t seed = (uint64_t)now_ms() ^ ((uint64_t)getpid() << 40);
	memcpy(prefix, &seed, 8);
	for (int i = 0; i < 16; i++) {
		ell_key k = range_key(prefix, i);
		char v[32];
		snprintf(v, sizeof(v), "value-%d", i);
		CHECK_RC(write_sync(g1, &k, v, strlen(v), 0, &e), ELL_OK, e);
	}
	ell_range r;
	prefix_range(prefix, &r);
	CHECK_RC(ell_session_read_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 16, "read range: %zu entries", ell_async_count(a));
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		char v[32];
		snprintf(v, sizeof(v), "value-%d", (int)i);
		CHECK(en->id[8] == i && en->data_size == strlen(v) && memcmp(en->data, v, en->data_size) == 0,
		      "entry %zu sorted, with data", i);
	}
	ell_async_free(a);

	r.limit_start = 3;
	r.limit_num = 14;
	CHECK_RC(ell_session_read_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 13, "limits (3, 14): %zu entries", ell_async_count(a));
	CHECK(ell_async_count(a) && ell_async_entry(a, 0)->id[8] == 3, "skips 3");
	ell_async_free(a);
	CHECK_RC(ell_session_count_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(count_of(a) == 13, "count: %llu", (unsigned long long)count_of(a));
	ell_async_free(a);

	/* Start after end. */
	ell_range bad;
	prefix_range(prefix, &bad);
	memcpy(bad.start, r.end, ELL_ID_SIZE);
	memcpy(bad.end, r.start, ELL_ID_SIZE);
	CHECK_RC(ell_session_read_range(g1, &bad, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_EINVAL, e);
	ell_async_free(a);
	CHECK_RC(ell_session_read_range(g1, NULL, NULL, &a, &e), ELL_EINVAL, e);

	test_iterator(g1, prefix);
	test_server_send(g1, prefix);

	prefix_range(prefix, &r);
	CHECK_RC(ell_session_remove_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(count_of(a) == 16, "removed: %llu", (unsigned long long)count_of(a));
	CHECK(ell_async_count(a) == 1 && ell_async_entry(a, 0)->group_id == 1, "one entry of group 1");
	ell_async_free(a);
	CHECK_RC(ell_session_remove_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(count_of(a) == 0, "removed again: %llu", (unsigned long long)count_of(a));
	ell_async_free(a);
	ell_session_free(g1);
}

static int32_t control(ell_session_t s, const char *addr, uint64_t iter, int32_t action, uint64_t *iterated,
		       ell_error *e)
{
	ell_async_t a;
	int32_t rc = ell_session_iterator_control(s, addr, iter, action, NULL, &a, e);
	if (rc != ELL_OK)
		return rc;
	rc = finish(a, e);
	if (rc == ELL_OK && iterated) {
		const ell_entry *en = ell_async_entry(a, 0);
		*iterated = en ? ell_entry_ext_of(en)->iterated_keys : 0;
	}
	ell_async_free(a);
	return rc;
}

/* Iterates the 16 records of the range tests on group 1's node; holds the
 * reader of an iteration over large records back to pause and continue it,
 * cancels one and abandons one; then a copy iterator to group 3. */
static void test_iterator(ell_session_t g1, const uint8_t prefix[8])
{
	ell_error e;
	ell_async_t a;
	ell_iterator_range ir;
	ell_range r;

	/* Records larger than the sockets between the node and us hold. */
	enum { BIG = 128, BIG_SIZE = 256 << 10 };
	uint8_t big[8];
	memcpy(big, prefix, 8);
	big[7] ^= 0x5a;
	char *value = malloc(BIG_SIZE);
	memset(value, 'v', BIG_SIZE);
	for (int i = 0; i < BIG; i++) {
		ell_key k = range_key(big, i);
		CHECK_RC(write_sync(g1, &k, value, BIG_SIZE, 0, &e), ELL_OK, e);
	}
	free(value);
	prefix_range(big, &r);
	memcpy(ir.start, r.start, ELL_ID_SIZE);
	memcpy(ir.end, r.end, ELL_ID_SIZE);
	ell_iterator_options o;
	memset(&o, 0, sizeof(o));
	o.address = addrs[0];
	o.backend_id = 0;
	o.ranges = &ir;
	o.range_count = 1;
	o.flags = ELL_ITERATOR_DATA;
	o.window = 1;
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_OK, e);
	const ell_entry *en = NULL;
	CHECK_RC(ell_async_next(a, 0, 10000, &en, &e), ELL_OK, e);
	if (en == NULL) {
		ell_async_free(a);
		return;
	}
	const ell_entry_ext *x = ell_entry_ext_of(en);
	uint64_t iter = x->iterator_id;
	CHECK(en->id[8] == 0 && en->data_size == BIG_SIZE, "first record with data");
	CHECK(strcmp(en->address, addrs[0]) == 0, "address %s", en->address);
	CHECK(x->total_keys >= BIG, "total %llu", (unsigned long long)x->total_keys);
	/* The reader holds back, so the node waits: pause and continue it. */
	uint64_t it1 = 0, it2 = 0;
	/* A record being sent when the pause came still counts: look after it. */
	struct timespec nap = {0, 200 * 1000 * 1000};
	CHECK_RC(control(g1, addrs[0], iter, ELL_ITERATOR_PAUSE, NULL, &e), ELL_OK, e);
	nanosleep(&nap, NULL);
	CHECK_RC(control(g1, addrs[0], iter, ELL_ITERATOR_PAUSE, &it1, &e), ELL_OK, e);
	nanosleep(&nap, NULL);
	CHECK_RC(control(g1, addrs[0], iter, ELL_ITERATOR_PAUSE, &it2, &e), ELL_OK, e);
	CHECK(it1 == it2 && it2 < BIG, "paused: %llu then %llu", (unsigned long long)it1, (unsigned long long)it2);
	CHECK_RC(control(g1, addrs[0], iter, ELL_ITERATOR_CONTINUE, NULL, &e), ELL_OK, e);
	size_t n = 1;
	for (;; n++) {
		int32_t rc = ell_async_next(a, n, 10000, &en, &e);
		if (rc == ELL_ENOENT)
			break;
		CHECK_RC(rc, ELL_OK, e);
		if (rc != ELL_OK)
			break;
		CHECK(en->id[8] == n && ell_entry_ext_of(en)->iterator_id == iter, "record %zu", n);
	}
	CHECK(n == BIG, "iterated %zu records", n);
	CHECK_RC(ell_async_status(a, &e), ELL_OK, e);
	ell_async_free(a);
	CHECK_RC(control(g1, addrs[0], iter, ELL_ITERATOR_CONTINUE, NULL, &e), ELL_ENOENT, e);
	CHECK_RC(ell_session_iterator_control(g1, addrs[0], iter, 99, NULL, &a, &e), ELL_EINVAL, e);

	/* Cancel: the operation completes with what arrived. */
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(ell_async_next(a, 0, 10000, &en, &e), ELL_OK, e);
	if (en != NULL) {
		CHECK_RC(control(g1, addrs[0], ell_entry_ext_of(en)->iterator_id, ELL_ITERATOR_CANCEL, NULL, &e), ELL_OK, e);
		CHECK_RC(ell_async_wait(a, 10000, &e), ELL_OK, e);
		CHECK_RC(ell_async_status(a, &e), ELL_OK, e);
		CHECK(ell_async_count(a) < BIG, "canceled early: %zu", ell_async_count(a));
	}
	ell_async_free(a);

	/* Freeing a running iterator's handle cancels it on the node. */
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(ell_async_next(a, 0, 10000, &en, &e), ELL_OK, e);
	iter = en ? ell_entry_ext_of(en)->iterator_id : 0;
	ell_async_free(a);
	int32_t rc = ELL_OK;
	for (int i = 0; i < 100 && rc == ELL_OK; i++) {
		rc = control(g1, addrs[0], iter, ELL_ITERATOR_PAUSE, NULL, &e);
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	}
	CHECK_RC(rc, ELL_ENOENT, e);
	CHECK_RC(ell_session_remove_range(g1, &r, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	ell_async_free(a);

	prefix_range(prefix, &r);
	memcpy(ir.start, r.start, ELL_ID_SIZE);
	memcpy(ir.end, r.end, ELL_ID_SIZE);

	/* A whole iteration by waiting (the window is lifted), without meta. */
	o.flags = ELL_ITERATOR_NO_META;
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 16, "wait: %zu", ell_async_count(a));
	en = ell_async_entry(a, 0);
	CHECK(en && en->data == NULL && en->tsec == 0, "no data, no timestamp");
	ell_async_free(a);

	/* A copy iterator: every record to group 3. */
	uint32_t three = 3;
	o.flags = 0;
	o.copy_groups = &three;
	o.copy_group_count = 1;
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_OK, e);
	CHECK(ell_async_count(a) == 16, "copied: %zu", ell_async_count(a));
	en = ell_async_entry(a, 0);
	CHECK(en && en->group_id == 3 && en->status == ELL_OK, "per destination group");
	ell_async_free(a);
	ell_session_t g3;
	CHECK_RC(ell_session_clone(g1, &g3, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(g3, &three, 1, &e), ELL_OK, e);
	ell_key k5 = range_key(prefix, 5);
	CHECK(read_is(g3, &k5, "value-5"), "copied to group 3");
	ell_session_free(g3);

	memset(&o, 0, sizeof(o));
	o.flags = 1u << 10;
	CHECK_RC(ell_session_start_iterator(g1, &o, NULL, &a, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_start_iterator(g1, NULL, NULL, &a, &e), ELL_EINVAL, e);
}

/* Copies two records of group 1 to group 2 with server_send; a third key
 * that is newer in group 2 is refused. */
static void test_server_send(ell_session_t g1, const uint8_t prefix[8])
{
	ell_error e;
	ell_async_t a;
	ell_session_t g2;
	uint32_t two = 2;
	CHECK_RC(ell_session_clone(g1, &g2, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_groups(g2, &two, 1, &e), ELL_OK, e);
	ell_key keys[3] = {range_key(prefix, 1), range_key(prefix, 2), range_key(prefix, 3)};
	CHECK_RC(ell_session_set_timestamp(g2, (uint64_t)time(NULL) + 3600, 0, &e), ELL_OK, e);
	CHECK_RC(write_sync(g2, &keys[2], "newer", 5, 0, &e), ELL_OK, e);
	CHECK_RC(ell_session_set_filter(g1, ELL_FILTER_ALL, &e), ELL_OK, e);
	CHECK_RC(ell_session_server_send(g1, keys, 3, &two, 1, 0, NULL, &a, &e), ELL_OK, e);
	CHECK_RC(finish(a, &e), ELL_EBADFD, e);
	CHECK(ell_async_count(a) == 3, "one entry per key: %zu", ell_async_count(a));
	for (size_t i = 0; i < ell_async_count(a); i++) {
		const ell_entry *en = ell_async_entry(a, i);
		CHECK(en->group_id == 2, "destination group");
		CHECK(en->status == (en->key_index == 2 ? ELL_EBADFD : ELL_OK), "key %llu status %d",
		      (unsigned long long)en->key_index, (int)en->status);
	}
	ell_async_free(a);
	CHECK_RC(ell_session_set_filter(g1, ELL_FILTER_POSITIVE, &e), ELL_OK, e);
	CHECK(read_is(g2, &keys[0], "value-1"), "sent");
	CHECK(read_is(g2, &keys[2], "newer"), "newer kept");
	CHECK_RC(ell_session_server_send(g1, keys, 3, NULL, 0, 0, NULL, &a, &e), ELL_EINVAL, e);
	ell_session_free(g2);
}

/* A progress callback: counts its calls and keeps the last figures;
 * stop_at (when non-zero) makes it stop the transfer with ELL_ECANCELED
 * once done reaches it. */
struct progress_log {
	int calls;
	uint64_t done, total, stop_at;
};

static int32_t on_progress(void *userdata, uint64_t done, uint64_t total)
{
	struct progress_log *p = userdata;
	p->calls++;
	p->done = done;
	p->total = total;
	return p->stop_at && done >= p->stop_at ? ELL_ECANCELED : ELL_OK;
}

/* file_sync runs a file call (write_file when write, else read_file) to
 * completion and returns its status; *entry_size gets the entry's size. */
static int32_t file_sync(ell_session_t s, int write, const ell_key *k, const char *path, const ell_file_options *o,
			 uint64_t *entry_size, ell_error *e)
{
	ell_async_t a = 0;
	int32_t rc = write ? ell_session_write_file(s, k, path, o, NULL, &a, e)
			   : ell_session_read_file(s, k, path, o, NULL, &a, e);
	if (rc != ELL_OK)
		return rc;
	rc = finish(a, e);
	const ell_entry *en = ell_async_entry(a, 0);
	if (entry_size)
		*entry_size = en ? en->size : (uint64_t)-1;
	ell_async_free(a);
	return rc;
}

/* read_whole reads a local file into a malloc'd buffer; its size in *len. */
static uint8_t *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	*len = 0;
	if (!f)
		return NULL;
	size_t cap = 1 << 20;
	uint8_t *b = malloc(cap);
	size_t n;
	while (b && (n = fread(b + *len, 1, cap - *len, f)) > 0) {
		*len += n;
		if (*len == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	return b;
}

/* Streams a 3 MiB file into a key and back with ell_session_write_file /
 * read_file in 1 MiB chunks: slices of the file, ranges of the object, a
 * write at a remote offset, a missing key, a missing file, a progress
 * callback that stops the transfer. */
/* Statistics and recovery requests (JSON through the ABI). */
static void test_admin(ell_session_t s)
{
	ell_error e;
	ell_json j = {0};
	CHECK_RC(ell_session_monitor_stat(s, NULL, UINT64_MAX, &j, &e), ELL_OK, e);
	CHECK(j.data != NULL && j.size == strlen(j.data), "monitor_stat: a NUL-terminated document");
	for (int i = 0; j.data && i < 3; i++)
		CHECK(strstr(j.data, addrs[i]) != NULL, "monitor_stat of every node lacks %s", addrs[i]);
	CHECK(j.data && strstr(j.data, "\"monitor_status\":\"enabled\"") != NULL, "no monitor_status");
	ell_json_free(&j);
	CHECK(j.data == NULL && j.size == 0, "ell_json_free clears the struct");
	/* One node, the backend category only (16). */
	CHECK_RC(ell_session_monitor_stat(s, addrs[0], 16, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"backends\"") && !strstr(j.data, "\"commands\""), "categories: %s",
	      j.data ? j.data : "(null)");
	ell_json_free(&j);

	const char *req = "{\"action\":\"status\"}";
	CHECK_RC(ell_session_recovery(s, addrs[0], req, strlen(req), &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"jobs\""), "recovery status: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	const char *bad = "{\"action\":\"defrag\"}";
	CHECK_RC(ell_session_recovery(s, addrs[0], bad, strlen(bad), &j, &e), ELL_EINVAL, e);
	CHECK(j.data == NULL, "no document on failure");
}

/* Server-side scripts: put, exec on a key (read-modify-write), fan-out on
 * every node, a script error's code, limits, the job manager, get, list,
 * remove. */
static const char script_src[] =
	"def incr(key, data):\n"
	"    cur = read(key)\n"
	"    n = 0\n"
	"    if cur != None:\n"
	"        n = int(str(cur))\n"
	"    n += 1\n"
	"    write(key, str(n))\n"
	"    return n\n"
	"def where():\n"
	"    return node\n"
	"def echo(data):\n"
	"    return data\n"
	"def spin():\n"
	"    while True:\n"
	"        pass\n"
	"def fail():\n"
	"    return 1 // 0\n";

static int jobs_seen;

static int32_t jobs_progress(void *userdata, uint64_t done, uint64_t total)
{
	(void)userdata;
	jobs_seen++;
	return done <= total ? ELL_OK : ELL_EINVAL;
}

static int count_of_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Whether the "address" of a JSON object is one of the cluster's nodes. */
static int json_has_cluster_addr(const char *json)
{
	const char *a = strstr(json, "\"address\":\"");
	if (a == NULL)
		return 0;
	a += strlen("\"address\":\"");
	for (int i = 0; i < 3; i++) {
		size_t n = strlen(addrs[i]);
		if (strncmp(a, addrs[i], n) == 0 && a[n] == '"')
			return 1;
	}
	return 0;
}

static void test_scripts(ell_session_t s)
{
	ell_error e;
	ell_json j = {0};
	char name[96], event[128];
	snprintf(name, sizeof(name), "capi-%ld-%lld", (long)getpid(), (long long)now_ms());

	CHECK_RC(ell_session_script_put(s, name, script_src, strlen(script_src), &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"version\":1") && strstr(j.data, name), "put: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	/* A script that does not compile is refused. */
	const char *broken = "def f(:\n";
	CHECK_RC(ell_session_script_put(s, name, broken, strlen(broken), &j, &e), ELL_EINVAL, e);
	CHECK(j.data == NULL, "no document on failure");

	/* exec on a key, twice: the counter goes 1, 2 (the result is JSON 2,
	 * base64 "Mg=="). */
	snprintf(event, sizeof(event), "%s@incr", name);
	ell_key k = name_key("script-counter");
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"data\":\"MQ==\""), "first incr: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"data\":\"Mg==\"") && strstr(j.data, "\"key\":\"script-counter\"") &&
		      strstr(j.data, "\"event\":") && strstr(j.data, "\"seconds\":"),
	      "second incr: %s", j.data ? j.data : "(null)");
	CHECK(j.data && json_has_cluster_addr(j.data), "address: %s", j.data ? j.data : "");
	ell_json_free(&j);
	uint8_t *got = NULL;
	uint64_t got_size = 0;
	CHECK_RC(read_sync(s, &k, 0, 0, &got, &got_size, &e), ELL_OK, e);
	CHECK(got_size == 1 && got && got[0] == '2', "the counter as stored");
	free(got);

	/* Data in, data out (bytes as is: "hello" is base64 "aGVsbG8="). */
	snprintf(event, sizeof(event), "%s@echo", name);
	CHECK_RC(ell_session_exec(s, &k, event, "hello", 5, NULL, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"data\":\"aGVsbG8=\""), "echo: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);

	/* Fan-out: one entry per node, each a node of the cluster. */
	snprintf(event, sizeof(event), "%s@where", name);
	CHECK_RC(ell_session_exec(s, NULL, event, NULL, 0, NULL, &j, &e), ELL_OK, e);
	CHECK(j.data && j.data[0] == '[' && count_of_str(j.data, "\"address\":") == 3 && !strstr(j.data, "\"error\""),
	      "fan-out: %s", j.data ? j.data : "(null)");
	for (int i = 0; j.data && i < 3; i++)
		CHECK(strstr(j.data, addrs[i]) != NULL, "fan-out lacks %s: %s", addrs[i], j.data);
	ell_json_free(&j);

	/* Script errors are status codes. */
	snprintf(event, sizeof(event), "%s@fail", name);
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, &j, &e), ELL_EINVAL, e);
	CHECK(j.data == NULL, "no document on failure");
	snprintf(event, sizeof(event), "%s@nosuchfunction", name);
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, &j, &e), ELL_EINVAL, e);
	snprintf(event, sizeof(event), "%s@spin", name);
	ell_exec_limits lim;
	memset(&lim, 0, sizeof(lim));
	lim.steps = 10000;
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, &lim, &j, &e), ELL_EMSGSIZE, e);
	memset(&lim, 0, sizeof(lim));
	lim.timeout_ms = 20; /* well before the node's step budget */
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, &lim, &j, &e), ELL_ETIMEDOUT, e);
	memset(&lim, 0, sizeof(lim));
	lim.result_bytes = 2;
	snprintf(event, sizeof(event), "%s@echo", name);
	CHECK_RC(ell_session_exec(s, &k, event, "hello", 5, &lim, &j, &e), ELL_EMSGSIZE, e);
	lim.timeout_ms = -1;
	CHECK_RC(ell_session_exec(s, &k, event, "hello", 5, &lim, &j, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_exec(s, &k, "no-at-sign", NULL, 0, NULL, &j, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_exec(s, &k, "no-such-script-here@f", NULL, 0, NULL, &j, &e), ELL_ENOENT, e);
	/* A fan-out where every node fails fails with the script's code. */
	snprintf(event, sizeof(event), "%s@fail", name);
	CHECK_RC(ell_session_exec(s, NULL, event, NULL, 0, NULL, &j, &e), ELL_EINVAL, e);

	/* The job manager: 30 keys, one result each in the keys' order. */
	enum { NJOBS = 30 };
	char kbuf[NJOBS][32];
	const char *keys[NJOBS];
	for (int i = 0; i < NJOBS; i++) {
		snprintf(kbuf[i], sizeof(kbuf[i]), "job-%d", i);
		keys[i] = kbuf[i];
	}
	snprintf(event, sizeof(event), "%s@incr", name);
	jobs_seen = 0;
	CHECK_RC(ell_session_run_jobs(s, event, keys, NJOBS, NULL, 0, 4, NULL, jobs_progress, NULL, &j, &e), ELL_OK, e);
	CHECK(jobs_seen == NJOBS, "progress called %d times", jobs_seen);
	CHECK(j.data && count_of_str(j.data, "\"data\":\"MQ==\"") == NJOBS && !strstr(j.data, "\"error\""),
	      "jobs: %s", j.data ? j.data : "(null)");
	CHECK(j.data && strstr(j.data, "\"key\":\"job-0\"") < strstr(j.data, "\"key\":\"job-29\""), "jobs in key order");
	ell_json_free(&j);
	snprintf(event, sizeof(event), "%s@fail", name);
	CHECK_RC(ell_session_run_jobs(s, event, keys, 3, NULL, 0, 0, NULL, NULL, NULL, &j, &e), ELL_OK, e);
	CHECK(j.data && count_of_str(j.data, "\"code\":-22") == 3, "failed jobs: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);

	/* get, list, a second version, remove. */
	CHECK_RC(ell_session_script_get(s, name, 0, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"source\":\"def incr"), "get: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	const char *v2 = "def where():\n    return 2\n";
	CHECK_RC(ell_session_script_put(s, name, v2, strlen(v2), &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "\"version\":2"), "put v2: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	CHECK_RC(ell_session_script_get(s, name, 1, &j, &e), ELL_OK, e);
	CHECK(j.data && strstr(j.data, "def incr"), "get v1: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	CHECK_RC(ell_session_script_get(s, name, 9, &j, &e), ELL_ENOENT, e);
	CHECK_RC(ell_session_script_list(s, &j, &e), ELL_OK, e);
	CHECK(j.data && j.data[0] == '[' && strstr(j.data, name), "list: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	CHECK_RC(ell_session_script_remove(s, name, &e), ELL_OK, e);
	CHECK_RC(ell_session_script_remove(s, name, &e), ELL_ENOENT, e);
	CHECK_RC(ell_session_script_get(s, name, 0, &j, &e), ELL_ENOENT, e);
	CHECK_RC(ell_session_script_list(s, &j, &e), ELL_OK, e);
	CHECK(j.data && !strstr(j.data, name), "list after remove: %s", j.data ? j.data : "(null)");
	ell_json_free(&j);
	snprintf(event, sizeof(event), "%s@where", name);
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, &j, &e), ELL_ENOENT, e);

	/* Bad arguments. */
	CHECK_RC(ell_session_exec(s, &k, NULL, NULL, 0, NULL, &j, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_exec(s, &k, event, NULL, 0, NULL, NULL, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_exec(0, &k, event, NULL, 0, NULL, &j, &e), ELL_EINVAL, e);
	CHECK_RC(ell_session_script_list(0, &j, &e), ELL_EINVAL, e);
}

/* A watch sees a write in each of the three groups, then times out, and a
 * closed watch is canceled. */
static void test_watch(ell_session_t s)
{
	ell_error e;
	ell_key k = name_key("capi-watch");
	ell_watch_t w = 0;
	ell_watch_event ev;
	CHECK_RC(ell_session_watch(s, &k, 0, &w, &e), ELL_OK, e);
	int started = 0, writes = 0;
	while (started < 3 && ell_watch_next(w, 5000, &ev, &e) == ELL_OK)
		started += ev.kind == ELL_WATCH_STARTED;
	CHECK(started == 3, "watches started: %d of 3", started);
	CHECK_RC(write_sync(s, &k, "hello", 5, 0, &e), ELL_OK, e);
	while (writes < 3 && ell_watch_next(w, 5000, &ev, &e) == ELL_OK) {
		if (ev.kind != ELL_WATCH_WRITE)
			continue;
		writes++;
		CHECK(ev.size == 5 && ev.tsec > 0 && ev.address[0] != 0 && ev.column[0] == 0,
		      "event: size %llu tsec %llu address '%s'", (unsigned long long)ev.size,
		      (unsigned long long)ev.tsec, ev.address);
	}
	CHECK(writes == 3, "write events: %d of 3", writes);
	CHECK_RC(ell_watch_next(w, 50, &ev, &e), ELL_ETIMEDOUT, e);
	ell_watch_close(w);
	CHECK_RC(ell_watch_next(w, 50, &ev, &e), ELL_ECANCELED, e);
}

static void test_files(ell_session_t s)
{
	ell_error e;
	ell_async_t a = 0;
	char src[64], dst[64];
	snprintf(src, sizeof(src), "/tmp/capi-test-%ld-src", (long)getpid());
	snprintf(dst, sizeof(dst), "/tmp/capi-test-%ld-dst", (long)getpid());
	const size_t size = (3 << 20) + 123;
	uint8_t *data = malloc(size);
	srand(7);
	for (size_t i = 0; i < size; i++)
		data[i] = (uint8_t)rand();
	FILE *f = fopen(src, "wb");
	CHECK(f && fwrite(data, 1, size, f) == size, "write %s", src);
	if (f)
		fclose(f);

	ell_key k = name_key("file-key");
	struct progress_log pl = {0};
	ell_file_options o;
	memset(&o, 0, sizeof(o));
	o.chunk_size = 1 << 20;
	o.progress = on_progress;
	o.userdata = &pl;
	uint64_t got = 0;
	CHECK_RC(file_sync(s, 1, &k, src, &o, NULL, &e), ELL_OK, e);
	CHECK(pl.calls == 4 && pl.done == size && pl.total == size, "write progress: %d calls, %llu of %llu", pl.calls,
	      (unsigned long long)pl.done, (unsigned long long)pl.total);
	memset(&pl, 0, sizeof(pl));
	CHECK_RC(file_sync(s, 0, &k, dst, &o, &got, &e), ELL_OK, e);
	CHECK(got == size, "entry size %llu", (unsigned long long)got);
	CHECK(pl.calls == 4 && pl.done == size, "read progress: %d calls, %llu", pl.calls, (unsigned long long)pl.done);
	size_t n = 0;
	uint8_t *back = read_whole(dst, &n);
	CHECK(back && n == size && memcmp(back, data, size) == 0, "round trip: %zu bytes", n);
	free(back);

	/* A slice of the file; then a range of the object (default options). */
	memset(&o, 0, sizeof(o));
	o.local_offset = 1000;
	o.size = 2 << 20;
	CHECK_RC(file_sync(s, 1, &k, src, &o, NULL, &e), ELL_OK, e);
	memset(&o, 0, sizeof(o));
	o.offset = 5;
	o.size = 100;
	CHECK_RC(file_sync(s, 0, &k, dst, &o, &got, &e), ELL_OK, e);
	back = read_whole(dst, &n);
	CHECK(back && n == 100 && got == 100 && memcmp(back, data + 1005, 100) == 0, "range of a slice: %zu bytes", n);
	free(back);

	/* A remote offset writes into the object as it is. */
	memset(&o, 0, sizeof(o));
	o.offset = 10;
	o.size = 20;
	CHECK_RC(file_sync(s, 1, &k, src, &o, NULL, &e), ELL_OK, e);
	memset(&o, 0, sizeof(o));
	o.size = 40;
	CHECK_RC(file_sync(s, 0, &k, dst, &o, NULL, &e), ELL_OK, e);
	back = read_whole(dst, &n);
	CHECK(back && n == 40 && memcmp(back, data + 1000, 10) == 0 && memcmp(back + 10, data, 20) == 0 &&
		      memcmp(back + 30, data + 1030, 10) == 0,
	      "offset write: %zu bytes", n);
	free(back);

	/* A missing key leaves the file as it was; a missing file is the call's error. */
	ell_key missing = name_key("file-missing");
	CHECK_RC(file_sync(s, 0, &missing, dst, NULL, NULL, &e), ELL_ENOENT, e);
	back = read_whole(dst, &n);
	CHECK(back && n == 40, "a missing key leaves the file: %zu bytes", n);
	free(back);
	char fresh[80];
	snprintf(fresh, sizeof(fresh), "%s-fresh", dst);
	CHECK_RC(file_sync(s, 0, &missing, fresh, NULL, NULL, &e), ELL_ENOENT, e);
	CHECK(access(fresh, F_OK) != 0, "a file made for a missing key is removed");
	CHECK_RC(ell_session_write_file(s, &k, "/nonexistent/file", NULL, NULL, &a, &e), ELL_ENOENT, e);
	CHECK(a == 0 && strstr(e.message, "/nonexistent/file") != NULL, "message: %s", e.message);
	CHECK_RC(ell_session_read_file(s, &k, "/nonexistent/dir/file", NULL, NULL, &a, &e), ELL_ENOENT, e);
	CHECK_RC(ell_session_write_file(s, &k, NULL, NULL, NULL, &a, &e), ELL_EINVAL, e);
	memset(&o, 0, sizeof(o));
	o.local_offset = size + 1;
	CHECK_RC(ell_session_write_file(s, &k, src, &o, NULL, &a, &e), ELL_EINVAL, e);

	/* A progress callback that says stop. */
	memset(&o, 0, sizeof(o));
	memset(&pl, 0, sizeof(pl));
	pl.stop_at = 1;
	o.chunk_size = 1 << 20;
	o.progress = on_progress;
	o.userdata = &pl;
	CHECK_RC(file_sync(s, 0, &k, dst, &o, NULL, &e), ELL_ECANCELED, e);
	CHECK(pl.calls == 1, "stopped after one chunk: %d calls", pl.calls);

	unlink(src);
	unlink(dst);
	free(data);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s ADDR_GROUP1 ADDR_GROUP2 ADDR_GROUP3\n", argv[0]);
		return 2;
	}
	for (int i = 0; i < 3; i++)
		addrs[i] = argv[i + 1];

	ell_error e;
	ell_node_t n = 0;
	ell_session_t s = 0;
	ell_node_config cfg;
	ell_node_config_init(&cfg);
	cfg.name = "capi_test";
	cfg.log_file = getenv("CAPI_TEST_LOG"); /* NULL: no log */
	cfg.log_level = ELL_LOG_DEBUG;
	CHECK_RC(ell_node_new(&cfg, &n, &e), ELL_OK, e);
	CHECK_RC(ell_node_add_remotes(n, addrs, 3, &e), ELL_OK, e);
	CHECK_RC(ell_session_new(n, &s, &e), ELL_OK, e);
	if (failures) {
		fprintf(stderr, "cannot connect; giving up\n");
		return 1;
	}

	test_version();
	test_bad_handles(s);
	test_settings(n, s);
	snprintf(run_ns, sizeof(run_ns), "capi-test-%ld-%lld", (long)getpid(), (long long)now_ms());
	CHECK_RC(ell_session_set_namespace(s, run_ns, strlen(run_ns), &e), ELL_OK, e);
	test_round_trip(s);
	test_offsets(s);
	test_lookup_remove(s);
	test_read_latest(s);
	test_namespaces_and_ids(s);
	test_checkers(s);
	test_completion(s);
	test_bulk(s);
	test_bulk_names(s);
	test_large(s);
	test_write_options(s);
	test_write_cas(s);
	test_files(s);
	test_ranges(s);
	test_routes(n, s);
	test_admin(s);
	test_scripts(s);
	test_watch(s);
	test_timeouts_and_close();

	ell_session_free(s);
	ell_node_close(n);
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("ok\n");
	return 0;
}
