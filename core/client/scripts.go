package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/elliptics/elliptics/core/auth"
	"github.com/elliptics/elliptics/core/proto"
	"github.com/elliptics/elliptics/core/script"
	"github.com/elliptics/elliptics/core/status"
)

// Scripts live in the cluster as ordinary keys of their own namespace, in
// every group, so that every node finds them:
//
//	script:NAME       the latest version (a ScriptRecord, JSON)
//	script:NAME@vN    version N, kept for history
//	scripts           the catalogue: every script's latest ScriptInfo
const (
	// ScriptNamespace is the namespace of scripts' keys.
	ScriptNamespace = "elliptics.scripts"
	// MaxScriptSize bounds a script's source.
	MaxScriptSize = 1 << 20
	scriptCatalog = "scripts"
)

// ScriptVars are the names a node predeclares for scripts besides the
// builtins: its address and the group the script runs in (strings).
var ScriptVars = []string{"node", "group"}

// ScriptInfo describes a stored script's version.
type ScriptInfo struct {
	Name     string    `json:"name"`
	Version  uint64    `json:"version"`
	Size     int       `json:"size"`
	Updated  time.Time `json:"updated"`
	Checksum string    `json:"sha256"` // of the source, hex
}

// ScriptRecord is a stored script: its description and source.
type ScriptRecord struct {
	ScriptInfo
	Source string `json:"source"`
	// Signer and Signature: who stored it (a key id, or ScriptSignerCluster
	// for the cluster secret) and auth.SignScript with that secret. Nodes
	// that authenticate run only scripts an admin key (or the cluster
	// secret) signed; the others ignore both.
	Signer    string `json:"signer,omitempty"`
	Signature string `json:"signature,omitempty"` // hex
}

// ScriptSignerCluster names the cluster secret as a script's signer.
const ScriptSignerCluster = "@cluster"

// sign signs rec with the credentials of the session's node, if any.
func (s *Session) sign(rec *ScriptRecord) {
	a := s.node.cfg.Auth
	var secret []byte
	switch {
	case a.ClusterSecret != "":
		rec.Signer, secret = ScriptSignerCluster, []byte(a.ClusterSecret)
	case a.KeyID != "":
		rec.Signer, secret = a.KeyID, []byte(a.KeySecret)
	default:
		return
	}
	sig := auth.SignScript(secret, rec.Name, rec.Version, []byte(rec.Source))
	rec.Signature = hex.EncodeToString(sig[:])
}

// ScriptKey is the key of a script's latest version (version 0) or of
// version v.
func ScriptKey(name string, version uint64) Key {
	if version == 0 {
		return NewKey("script:" + name)
	}
	return NewKey("script:" + name + "@v" + strconv.FormatUint(version, 10))
}

// scripts returns a session for script keys: their namespace, every group
// of the route table in ascending order (each node must find them; reads
// try the first, the primary, first).
func (s *Session) scripts() (*Session, error) {
	sc := s.Clone()
	sc.SetNamespace(ScriptNamespace)
	sc.SetReadOrder(ReadInGroupOrder)
	if gs := s.node.Table().Groups(); len(gs) > 0 {
		slices.Sort(gs)
		sc.SetGroups(gs...)
	}
	if len(sc.groups) == 0 {
		return nil, status.Errorf(status.NoRoute, "scripts: the route table lists no group")
	}
	return sc, nil
}

// casPrimary changes key k with fn by compare-and-swap in the primary
// group only, which orders concurrent changes (a CAS in every group could
// let two writers win in different groups), then copies the result to
// the other groups, where an older copy never replaces a newer one
// (CASTimestamp, the time the change was made).
func (s *Session) casPrimary(ctx context.Context, k Key, fn func(cur []byte) ([]byte, error)) error {
	prim := s.Clone()
	prim.SetGroups(s.groups[0])
	var body []byte
	var at time.Time
	if _, err := prim.WriteCAS(ctx, k, func(cur []byte) ([]byte, error) {
		b, err := fn(cur)
		body, at = b, time.Now().UTC()
		prim.SetTimestamp(at)
		return b, err
	}, 0); err != nil {
		return err
	}
	if len(s.groups) == 1 {
		return nil
	}
	rest := s.Clone()
	rest.SetGroups(s.groups[1:]...)
	rest.SetTimestamp(at)
	rest.SetChecker(CheckNone)
	res, _ := rest.WriteWith(ctx, k, body, WriteOptions{CASTimestamp: true})
	for _, e := range res.Entries {
		if !e.OK() && e.Status != status.Mismatch {
			// The copy is behind; the primary is read first, and the
			// next change copies again.
			return fmt.Errorf("copy %s to group %d: %w", k, e.Group, e.Err)
		}
	}
	return nil
}

// PutScript stores src as the next version of script name (version 1 for a
// new one) in every group and tells every node to drop its cached copy.
// Concurrent puts get distinct versions (compare-and-swap on the latest).
func (s *Session) PutScript(ctx context.Context, name string, src []byte) (ScriptInfo, error) {
	if err := proto.ValidScriptName(name); err != nil {
		return ScriptInfo{}, err
	}
	if len(src) > MaxScriptSize {
		return ScriptInfo{}, status.Errorf(status.TooLarge, "script %s: %d bytes over the limit of %d", name, len(src), MaxScriptSize)
	}
	if !utf8.Valid(src) {
		return ScriptInfo{}, status.Errorf(status.Invalid, "script %s: source is not UTF-8 text", name)
	}
	// A script that does not compile is refused here, not on every node
	// at its first call.
	prog, err := script.Compile(name, 0, src)
	if err != nil {
		return ScriptInfo{}, fmt.Errorf("put script %s: %w", name, err)
	}
	for _, n := range prog.FreeNames() {
		if !slices.Contains(ScriptVars, n) {
			return ScriptInfo{}, status.Errorf(status.Invalid, "put script %s: undefined: %s (builtins: key, data, read, write, remove, lookup, read_range, json, struct, %s)",
				name, n, strings.Join(ScriptVars, ", "))
		}
	}
	sc, err := s.scripts()
	if err != nil {
		return ScriptInfo{}, err
	}
	sum := sha256.Sum256(src)
	var rec ScriptRecord
	err = sc.casPrimary(ctx, ScriptKey(name, 0), func(cur []byte) ([]byte, error) {
		var old ScriptRecord
		if cur != nil {
			if err := json.Unmarshal(cur, &old); err != nil {
				return nil, status.Errorf(status.Corrupt, "script %s: stored record: %v", name, err)
			}
		}
		rec = ScriptRecord{ScriptInfo: ScriptInfo{Name: name, Version: old.Version + 1, Size: len(src),
			Updated: time.Now().UTC(), Checksum: hex.EncodeToString(sum[:])}, Source: string(src)}
		s.sign(&rec)
		return json.Marshal(rec)
	})
	if err != nil {
		return ScriptInfo{}, fmt.Errorf("put script %s: %w", name, err)
	}
	body, _ := json.Marshal(rec)
	if _, err := sc.Write(ctx, ScriptKey(name, rec.Version), body); err != nil {
		return rec.ScriptInfo, fmt.Errorf("put script %s: keep version %d: %w", name, rec.Version, err)
	}
	if err := sc.updateCatalog(ctx, func(m map[string]ScriptInfo) { m[name] = rec.ScriptInfo }); err != nil {
		return rec.ScriptInfo, fmt.Errorf("put script %s: %w", name, err)
	}
	s.invalidateScript(ctx, name)
	return rec.ScriptInfo, nil
}

// Script returns version v of script name (0: the latest) and its source.
func (s *Session) Script(ctx context.Context, name string, v uint64) (ScriptRecord, error) {
	if err := proto.ValidScriptName(name); err != nil {
		return ScriptRecord{}, err
	}
	sc, err := s.scripts()
	if err != nil {
		return ScriptRecord{}, err
	}
	return sc.loadScript(ctx, name, v)
}

// loadScript reads a script record with a session set up for script keys.
func (s *Session) loadScript(ctx context.Context, name string, v uint64) (ScriptRecord, error) {
	e, err := s.Read(ctx, ScriptKey(name, v), 0, 0)
	if err != nil {
		if errors.Is(err, status.ErrNotFound) {
			if v == 0 {
				return ScriptRecord{}, status.Errorf(status.NotFound, "script %s: no such script", name)
			}
			return ScriptRecord{}, status.Errorf(status.NotFound, "script %s: no version %d", name, v)
		}
		return ScriptRecord{}, fmt.Errorf("script %s: %w", name, err)
	}
	return DecodeScriptRecord(name, e.Data)
}

// DecodeScriptRecord parses the stored record of script name.
func DecodeScriptRecord(name string, b []byte) (ScriptRecord, error) {
	var rec ScriptRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return ScriptRecord{}, status.Errorf(status.Corrupt, "script %s: stored record: %v", name, err)
	}
	if rec.Name != name {
		return ScriptRecord{}, status.Errorf(status.Corrupt, "script %s: stored record names %q", name, rec.Name)
	}
	return rec, nil
}

// ListScripts returns every stored script's latest version, by name.
func (s *Session) ListScripts(ctx context.Context) ([]ScriptInfo, error) {
	sc, err := s.scripts()
	if err != nil {
		return nil, err
	}
	m, err := sc.catalog(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ScriptInfo, 0, len(m))
	for _, in := range m {
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b ScriptInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveScript removes script name, every version of it, from every group
// and tells every node to drop its cached copy.
func (s *Session) RemoveScript(ctx context.Context, name string) error {
	sc, err := s.scripts()
	if err != nil {
		return err
	}
	rec, err := sc.loadScript(ctx, name, 0)
	if err != nil {
		return err
	}
	if _, err := sc.Remove(ctx, ScriptKey(name, 0)); err != nil && !errors.Is(err, status.ErrNotFound) {
		return fmt.Errorf("remove script %s: %w", name, err)
	}
	s.invalidateScript(ctx, name)
	for v := uint64(1); v <= rec.Version; v++ {
		if _, err := sc.Remove(ctx, ScriptKey(name, v)); err != nil && !errors.Is(err, status.ErrNotFound) {
			return fmt.Errorf("remove script %s: version %d: %w", name, v, err)
		}
	}
	return sc.updateCatalog(ctx, func(m map[string]ScriptInfo) { delete(m, name) })
}

func (s *Session) catalog(ctx context.Context) (map[string]ScriptInfo, error) {
	e, err := s.Read(ctx, NewKey(scriptCatalog), 0, 0)
	if errors.Is(err, status.ErrNotFound) {
		return map[string]ScriptInfo{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("scripts: read the catalogue: %w", err)
	}
	return decodeCatalog(e.Data)
}

func decodeCatalog(b []byte) (map[string]ScriptInfo, error) {
	m := map[string]ScriptInfo{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, status.Errorf(status.Corrupt, "scripts: catalogue: %v", err)
		}
	}
	return m, nil
}

func (s *Session) updateCatalog(ctx context.Context, change func(map[string]ScriptInfo)) error {
	err := s.casPrimary(ctx, NewKey(scriptCatalog), func(cur []byte) ([]byte, error) {
		m, err := decodeCatalog(cur)
		if err != nil {
			return nil, err
		}
		change(m)
		return json.Marshal(m)
	})
	if err != nil {
		return fmt.Errorf("scripts: update the catalogue: %w", err)
	}
	return nil
}

// invalidateScript tells every node to drop its cached copy of script
// name, best effort: a node that misses it reloads after its cache's
// lifetime (server [script] reload).
func (s *Session) invalidateScript(ctx context.Context, name string) {
	head := (&proto.ExecRequest{Flags: proto.ExecInvalidate, Script: name}).Append(nil)
	addrs := s.node.Table().Addresses()
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Go(func() { s.execOn(ctx, a, "", head, nil) })
	}
	wg.Wait()
}
