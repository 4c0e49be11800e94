// Package httpapi serves objects over plain HTTP: GET, HEAD, PUT and
// DELETE of /v1/{namespace}/{key} on a client.Session, with single byte
// ranges, ETag and Last-Modified, conditional requests mapped to
// compare-and-swap, and bodies streamed both ways in chunks so that memory
// stays bounded whatever the object's size (docs/http.md).
//
// The handler keeps no state of its own: ellipticsd mounts it on its own
// port over a client connected to the node itself ([http] addr), reading
// the keys that node owns through Options.Local without that round trip,
// and the same handler runs in a stateless frontend process in front of a
// cluster (ellipticsd --frontend). Requests outside /v1/ go to Options.Fallback,
// where the S3-compatible handler is mounted.
package httpapi
