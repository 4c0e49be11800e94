package main

/*
#include <stdlib.h>
#include <string.h>
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"unsafe"

	"github.com/elliptics/elliptics/core/proto"
)

// Administration calls speak JSON: their requests and replies are JSON on
// the wire already, and their options grow.

//export ell_json_free
func ell_json_free(j *C.ell_json) {
	defer swallow()
	if j == nil {
		return
	}
	C.free(unsafe.Pointer(j.data))
	j.data, j.size = nil, 0
}

// jsonOut copies b into C memory as out.
func jsonOut(out *C.ell_json, b []byte) {
	p := (*C.char)(C.malloc(C.size_t(len(b) + 1)))
	buf := unsafe.Slice((*byte)(unsafe.Pointer(p)), len(b)+1)
	buf[copy(buf, b)] = 0
	out.data, out.size = p, C.size_t(len(b))
}

//export ell_session_recovery
func ell_session_recovery(h C.ell_session_t, address *C.ell_cchar, request *C.ell_cchar, n C.size_t, out *C.ell_json,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil || address == nil || request == nil {
		return invalid(err, "ell_session_recovery: address, request and out must be set")
	}
	*out = C.ell_json{}
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	s, _ := ss.snapshot()
	if n > 1<<20 {
		return invalid(err, "ell_session_recovery: request over 1 MiB")
	}
	raw := C.GoBytes(unsafe.Pointer(request), C.int(n))
	req, e := proto.DecodeRecoveryRequest(raw)
	if e != nil {
		return fail(err, e)
	}
	rep, e := s.Recovery(context.Background(), C.GoString((*C.char)(unsafe.Pointer(address))), req)
	if e != nil {
		return fail(err, e)
	}
	b, e := json.Marshal(rep)
	if e != nil {
		return fail(err, fmt.Errorf("ell_session_recovery: encode reply: %w", e))
	}
	jsonOut(out, b)
	return C.ELL_OK
}

// monitorEntry is one node of ell_session_monitor_stat's reply.
type monitorEntry struct {
	Address string          `json:"address"`
	Stats   json.RawMessage `json:"stats,omitempty"`
	Error   *errorJSON      `json:"error,omitempty"`
}

type errorJSON struct {
	Code    int32  `json:"code"`
	Message string `json:"message"`
}

//export ell_session_monitor_stat
func ell_session_monitor_stat(h C.ell_session_t, address *C.ell_cchar, categories C.uint64_t, out *C.ell_json,
	err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_session_monitor_stat: out is NULL")
	}
	*out = C.ell_json{}
	ss, ok := getSession(h)
	if !ok {
		return badHandle(err, "session", h)
	}
	s, _ := ss.snapshot()
	addr := ""
	if address != nil {
		addr = C.GoString((*C.char)(unsafe.Pointer(address)))
	}
	res, e := s.MonitorStat(context.Background(), addr, uint64(categories))
	entries := make([]monitorEntry, len(res))
	for i, r := range res {
		entries[i] = monitorEntry{Address: r.Address}
		if r.Err != nil {
			entries[i].Error = &errorJSON{Code: int32(errCode(r.Err)), Message: r.Err.Error()}
		} else {
			entries[i].Stats = r.Raw
		}
	}
	if e != nil {
		return fail(err, e)
	}
	b, e := json.Marshal(entries)
	if e != nil {
		return fail(err, fmt.Errorf("ell_session_monitor_stat: encode reply: %w", e))
	}
	jsonOut(out, b)
	return C.ELL_OK
}
