/*
 * capi_types.h: private to the cgo code of libelliptics, not part of the ABI.
 *
 * cgo writes an exported Go function's C prototype from the Go parameter
 * types, and has no way to say "const". A `*C.char` parameter becomes
 * `char*`, which conflicts with the `const char *` of elliptics.h. These
 * typedefs name the const-qualified types, so `*C.ell_cchar` is written as
 * `ell_cchar*`, i.e. `const char *`, and the generated header agrees with
 * elliptics.h declaration for declaration.
 */
#ifndef ELLIPTICS_CAPI_TYPES_H
#define ELLIPTICS_CAPI_TYPES_H

#include <stdlib.h>
#include "elliptics.h"

typedef const char ell_cchar;                    /* const char * */
typedef const char *const ell_ccstr;             /* const char *const * */
typedef const void ell_cvoid;                    /* const void * */
typedef const void *const ell_cvptr;             /* const void *const * */
typedef const uint32_t ell_cu32;                 /* const uint32_t * */
typedef const uint64_t ell_cu64;                 /* const uint64_t * */
typedef const ell_node_config ell_cnode_config;  /* const ell_node_config * */
typedef const ell_key ell_ckey;                  /* const ell_key * */
typedef const ell_completion ell_ccompletion;    /* const ell_completion * */
typedef const ell_entry ell_centry;              /* const ell_entry * */
typedef const ell_entry_ext ell_centry_ext;      /* const ell_entry_ext * */
typedef const ell_write_options ell_cwrite_options; /* const ell_write_options * */
typedef const ell_range ell_crange;              /* const ell_range * */
typedef const ell_iterator_options ell_citerator_options; /* const ell_iterator_options * */
typedef const ell_file_options ell_cfile_options; /* const ell_file_options * */
typedef const ell_exec_limits ell_cexec_limits; /* const ell_exec_limits * */

/* Where a compare-and-swap converter puts its result (C memory, so that
 * the converter writes no pointer into Go memory). */
typedef struct ell_conv_out {
	const void *data;
	uint64_t size;
} ell_conv_out;

/* Go cannot call a C function pointer; this calls it for the goroutine that
 * completes an operation. static inline: the generated header repeats the
 * preamble, and an unused static function would warn there. */
static inline void ell_call_callback(ell_callback f, ell_async_t a, void *userdata) { f(a, userdata); }

/* Calls a compare-and-swap converter for the Go side, as above. */
static inline int32_t ell_call_converter(ell_cas_converter f, void *userdata, const void *current, uint64_t size,
					 int32_t exists, ell_conv_out *out) {
	return f(userdata, current, size, exists, &out->data, &out->size);
}

/* Calls a file transfer's progress callback for the Go side, as above. */
static inline int32_t ell_call_progress(ell_progress f, void *userdata, uint64_t done, uint64_t total) {
	return f(userdata, done, total);
}

#endif
