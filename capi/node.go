package main

/*
#include "capi_types.h"
*/
import "C"

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/id"
	"github.com/elliptics/elliptics/core/status"
	"github.com/elliptics/elliptics/core/transport"
)

// node is the object behind an ell_node_t.
type node struct {
	n       *client.Node
	log     *zap.Logger
	logFile io.Closer
	// ctx is the parent of every operation of the node's sessions;
	// ell_node_close cancels it, so operations still waiting for a
	// connection end at once with ELL_ECANCELED.
	ctx    context.Context
	cancel context.CancelFunc
	dial   time.Duration
	// tls, once set by ell_node_set_tls, dials new connections (tls.go).
	tls atomic.Pointer[transport.TLS]

	mu   sync.Mutex
	wait time.Duration // default timeout of sessions made from now on
}

func (nd *node) waitTimeout() time.Duration {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.wait
}

func getNode(h C.ell_node_t) (*node, bool) { return getAs[*node](handles, uint64(h)) }

func ms(v C.int64_t) time.Duration { return time.Duration(v) * time.Millisecond }

//export ell_node_config_init
func ell_node_config_init(c *C.ell_node_config) {
	defer swallow()
	if c == nil {
		return
	}
	*c = C.ell_node_config{
		wait_timeout_ms:  5000,
		dial_timeout_ms:  5000,
		check_timeout_ms: 5000,
		log_level:        C.ELL_LOG_ERROR,
	}
}

// newLogger builds the node's logger: nothing without a file, else a
// console log of the given level appended to the file. The file is opened
// here rather than by zap so that ell_node_close can close it: a process
// that makes and closes nodes in a loop must not run out of descriptors.
func newLogger(file string, level C.int32_t) (*zap.Logger, io.Closer, error) {
	var lvl zapcore.Level
	switch level {
	case C.ELL_LOG_ERROR:
		lvl = zap.ErrorLevel
	case C.ELL_LOG_WARNING:
		lvl = zap.WarnLevel
	case C.ELL_LOG_INFO, C.ELL_LOG_NOTICE: // zap has no notice level
		lvl = zap.InfoLevel
	case C.ELL_LOG_DEBUG:
		lvl = zap.DebugLevel
	default:
		return nil, nil, status.Errorf(status.Invalid, "log_level %d is not one of ELL_LOG_*", int32(level))
	}
	if file == "" {
		return zap.NewNop(), io.NopCloser(nil), nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(f), lvl)
	return zap.New(core), f, nil
}

//export ell_node_new
func ell_node_new(cfg *C.ell_cnode_config, out *C.ell_node_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_node_new: out is NULL")
	}
	*out = 0
	var c C.ell_node_config
	if cfg != nil {
		c = *cfg
	}
	if c.wait_timeout_ms < 0 || c.dial_timeout_ms < 0 || c.check_timeout_ms < 0 {
		return invalid(err, "ell_node_new: negative timeout")
	}
	var file, name string
	if c.log_file != nil {
		file = C.GoString(c.log_file)
	}
	if c.name != nil {
		name = C.GoString(c.name)
	}
	var auth client.AuthConfig
	if c.key_id != nil {
		auth.KeyID = C.GoString(c.key_id)
	}
	if c.key_secret != nil {
		auth.KeySecret = C.GoString(c.key_secret)
	}
	if auth.KeyID != "" && auth.KeySecret == "" {
		return invalid(err, "ell_node_new: key_id without key_secret")
	}
	log, logFile, e := newLogger(file, c.log_level)
	if e != nil {
		return fail(err, fmt.Errorf("ell_node_new: %w", e))
	}
	nd := &node{log: log, logFile: logFile}
	n := client.NewNode(client.Config{
		Dial:            nd.dialer,
		WaitTimeout:     ms(c.wait_timeout_ms),
		DialTimeout:     ms(c.dial_timeout_ms),
		RefreshInterval: ms(c.check_timeout_ms),
		Proxy:           c.proxy != 0,
		Name:            name,
		Logger:          log,
		Auth:            auth,
	})
	ctx, cancel := context.WithCancel(context.Background())
	conf := n.Config() // with the defaults filled in
	nd.n, nd.ctx, nd.cancel, nd.dial, nd.wait = n, ctx, cancel, conf.DialTimeout, conf.WaitTimeout
	*out = C.ell_node_t(handles.add(nd))
	return C.ELL_OK
}

//export ell_node_add_remotes
func ell_node_add_remotes(h C.ell_node_t, addrs *C.ell_ccstr, count C.size_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	nd, ok := getNode(h)
	if !ok {
		return badHandle(err, "node", h)
	}
	if addrs == nil && count > 0 {
		return invalid(err, "ell_node_add_remotes: addrs is NULL")
	}
	if uint64(count) > maxCount {
		return invalid(err, "ell_node_add_remotes: %d addresses", uint64(count))
	}
	list := make([]string, 0, int(count))
	for i, p := range unsafe.Slice(addrs, int(count)) {
		if p == nil {
			return invalid(err, "ell_node_add_remotes: address %d is NULL", i)
		}
		list = append(list, C.GoString(p))
	}
	ctx, cancel := context.WithTimeout(nd.ctx, nd.dial)
	defer cancel()
	if e := nd.n.AddRemotes(ctx, list...); e != nil {
		return fail(err, e)
	}
	return C.ELL_OK
}

//export ell_node_set_timeouts
func ell_node_set_timeouts(h C.ell_node_t, waitMS C.int64_t, checkMS C.int64_t, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	nd, ok := getNode(h)
	if !ok {
		return badHandle(err, "node", h)
	}
	if waitMS < 0 || checkMS < 0 {
		return invalid(err, "ell_node_set_timeouts: negative timeout")
	}
	if waitMS > 0 {
		nd.mu.Lock()
		nd.wait = ms(waitMS)
		nd.mu.Unlock()
	}
	// check_timeout_ms: core/client fixes its refresh interval when the
	// node is made (Config.RefreshInterval) and has no setter yet, so a
	// new value is accepted and has no effect; see docs/capi.md.
	return C.ELL_OK
}

//export ell_node_close
func ell_node_close(h C.ell_node_t) {
	defer swallow()
	nd, ok := removeAs[*node](handles, uint64(h))
	if !ok {
		return
	}
	nd.cancel()
	_ = nd.n.Close()
	_ = nd.log.Sync()
	_ = nd.logFile.Close()
}

//export ell_node_routes
func ell_node_routes(h C.ell_node_t, out *C.ell_route_list, err *C.ell_error) (rc C.int32_t) {
	defer guard(err, &rc)
	if out == nil {
		return invalid(err, "ell_node_routes: out is NULL")
	}
	*out = C.ell_route_list{}
	nd, ok := getNode(h)
	if !ok {
		return badHandle(err, "node", h)
	}
	type rt struct {
		point   id.ID
		group   uint32
		backend int32
		addr    string
	}
	var routes []rt
	for _, b := range nd.n.Table().Backends() {
		for _, p := range b.Points {
			routes = append(routes, rt{p, b.Group, b.ID, b.Addr})
		}
	}
	if len(routes) == 0 {
		return C.ELL_OK
	}
	slices.SortFunc(routes, func(a, b rt) int {
		if a.group != b.group {
			if a.group < b.group {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.point[:], b.point[:])
	})
	// One block: the array, then each address once, NUL-terminated, so
	// ell_route_list_free has a single pointer to free.
	strOff := map[string]int{}
	size := len(routes) * C.sizeof_ell_route
	for _, r := range routes {
		if _, ok := strOff[r.addr]; !ok {
			strOff[r.addr] = size
			size += len(r.addr) + 1
		}
	}
	block := C.calloc(1, C.size_t(size))
	if block == nil {
		return setError(err, C.ELL_ENOMEM, "ell_node_routes: out of memory")
	}
	buf := unsafe.Slice((*byte)(block), size)
	for a, off := range strOff {
		copy(buf[off:], a) // the byte after it is 0 from calloc
	}
	list := unsafe.Slice((*C.ell_route)(block), len(routes))
	for i, r := range routes {
		e := &list[i]
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&e.id[0])), id.Size), r.point[:])
		e.group_id = C.uint32_t(r.group)
		e.backend_id = C.int32_t(r.backend)
		e.address = (*C.char)(unsafe.Pointer(&buf[strOff[r.addr]]))
	}
	out.routes = (*C.ell_route)(block)
	out.count = C.size_t(len(routes))
	return C.ELL_OK
}

//export ell_route_list_free
func ell_route_list_free(l *C.ell_route_list) {
	defer swallow()
	if l == nil {
		return
	}
	C.free(unsafe.Pointer(l.routes))
	l.routes = nil
	l.count = 0
}
