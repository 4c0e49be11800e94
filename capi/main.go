// Command capi is libelliptics, the C ABI of the Elliptics client, built with
//
//	go build -buildmode=c-shared -o bin/libelliptics.so ./capi
//
// capi/elliptics.h is the contract, written by hand; every function in it is
// an export here with exactly its C types (capi_types.h names the const
// types cgo cannot spell), so a C compile of the generated header against
// elliptics.h catches any difference. docs/capi.md describes the rules:
// handles, errors, asynchronous calls, memory ownership and threads.
//
// Every export recovers from panics (a Go panic unwinding into C would
// abort the host process) and validates its handles through the registry,
// so a stale handle is ELL_EINVAL, never a crash.
package main

/*
#include "capi_types.h"
*/
import "C"

// version is the library version; a C string made once and never freed.
var version = C.CString("0.1.0")

func main() {} // required by -buildmode=c-shared, never run

//export ell_version
func ell_version() *C.ell_cchar { return version }

//export ell_abi_version
func ell_abi_version() C.int32_t { return C.ELL_ABI_VERSION }

//export ell_strerror
func ell_strerror(code C.int32_t) *C.ell_cchar {
	if s, ok := strerrors[int32(code)]; ok {
		return s
	}
	return strerrorUnknown
}
