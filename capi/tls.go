package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"context"
	"net"
	"unsafe"

	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport"
)

// dialer is the node's client.Config.Dial: TLS once ell_node_set_tls was
// called, else TCP.
func (nd *node) dialer(ctx context.Context, addr string) (net.Conn, error) {
	if t := nd.tls.Load(); t != nil {
		return t.Dial(ctx, addr)
	}
	return transport.TCP{}.Dial(ctx, addr)
}

func optString(p *C.ell_cchar) string {
	if p == nil {
		return ""
	}
	return C.GoString((*C.char)(unsafe.Pointer(p)))
}

//export ell_node_set_tls
func ell_node_set_tls(h C.ell_node_t, caFile, certFile, keyFile, serverName *C.ell_cchar, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	nd, ok := getNode(h)
	if !ok {
		return badHandle(err, "node", h)
	}
	t, e := transport.NewTLS(transport.TLSFiles{CAFile: optString(caFile), CertFile: optString(certFile),
		KeyFile: optString(keyFile), ServerName: optString(serverName)})
	if e != nil {
		return fail(err, status.Errorf(status.Invalid, "ell_node_set_tls: %v", e))
	}
	nd.tls.Store(t)
	return C.ELL_OK
}
