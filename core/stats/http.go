package stats

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves a node's statistics over HTTP, from snap (the node's
// MonitorStat):
//
//	GET /metrics                   Prometheus text format (Collector, plus go_* runtime metrics)
//	GET /  or  /?categories=MASK   the MONITOR_STAT JSON of every (or the given) categories
//	GET /all, /commands, /backend, /io, /stats, /procfs, /top, /recovery, /cache
//	                               the JSON of one category (as the original's monitor port)
//	GET /list                      the category names
//
// Each handler gets its own registry, so several nodes in one process
// (tests) do not collide in the default one.
func Handler(snap func(categories uint64) *Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(snap), collectors.NewGoCollector())
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /list", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, append([]string{"all"}, CategoryNames()...))
	})
	mux.HandleFunc("GET /{category}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("category")
		mask, ok := ParseCategories(name)
		if !ok || strings.Contains(name, ",") {
			http.Error(w, "unknown category "+name+" (see /list)", http.StatusNotFound)
			return
		}
		writeJSON(w, snap(mask))
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		mask := CategoryAll
		if q := r.URL.Query().Get("categories"); q != "" {
			var ok bool
			if mask, ok = ParseCategories(q); !ok {
				http.Error(w, "bad categories "+q+": a bitmask or names (see /list)", http.StatusBadRequest)
				return
			}
		}
		writeJSON(w, snap(mask))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode statistics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(append(b, '\n')) // a failed write is the client's loss
}
