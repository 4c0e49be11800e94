package main

import "testing"

func TestSlug(t *testing.T) {
	for _, c := range []struct{ sys, wl, want string }{
		{"ellipticsd blob sync=none", "put 1 KiB", "ellipticsd-blob-sync-none_put-1KiB"},
		{"ellipticsd blob sync=always", "get 1 MiB", "ellipticsd-blob-sync-always_get-1MiB"},
		{"ellipticsd 3 groups sync=none", "90/10 get/put 1 KiB, 3 replicas", "ellipticsd-3-groups-sync-none_90-10-get-put-1KiB-3-replicas"},
	} {
		if got := slug(c.sys, c.wl); got != c.want {
			t.Errorf("slug(%q, %q) = %q, want %q", c.sys, c.wl, got, c.want)
		}
	}
}
