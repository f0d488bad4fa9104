package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"sort"
	"sync"
	"time"
)

// Health answers the HTTP health checks.
type Health interface {
	// Serving reports whether the node accepts SQL connections (false
	// while draining).
	Serving() bool
	// CheckSQL runs a trivial statement through a fresh session.
	CheckSQL(ctx context.Context) error
}

// readyCheckTimeout bounds /health?ready=1's SQL check, so a wedged
// engine makes the check fail instead of hanging the prober.
const readyCheckTimeout = 5 * time.Second

// NewHTTPHandler serves the node's HTTP endpoints (contract §7):
//
//   - /health: 200 while the node serves SQL, 503 while it drains;
//   - /health?ready=1: additionally runs SELECT 1, 503 if that fails;
//   - /metrics: Prometheus text from the registry's sources;
//   - /debug/pprof/: Go's profiles (net/http/pprof), registered on this
//     mux only, never on http.DefaultServeMux.
func NewHTTPHandler(h Health, metrics *MetricsRegistry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !h.Serving() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "node is draining"})
			return
		}
		if v := r.URL.Query().Get("ready"); v == "1" || v == "true" {
			ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
			defer cancel()
			if err := h.CheckSQL(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "node cannot run SQL: " + err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// MetricsRegistry collects Prometheus text-format metrics from the parts
// of the node that register a source (the wire server now; replication
// registers its own). Safe for concurrent use.
type MetricsRegistry struct {
	mu      sync.Mutex
	sources map[string]func(w io.Writer)
}

// NewMetricsRegistry returns an empty registry.
func NewMetricsRegistry() *MetricsRegistry {
	return &MetricsRegistry{sources: map[string]func(io.Writer){}}
}

// Register adds (or replaces) the named source. A source writes complete
// metric families (# HELP, # TYPE and samples) in Prometheus text format.
func (r *MetricsRegistry) Register(name string, write func(w io.Writer)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sources[name] = write
}

// ServeHTTP writes every source, in name order.
func (r *MetricsRegistry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	names := make([]string, 0, len(r.sources))
	for name := range r.sources {
		names = append(names, name)
	}
	sort.Strings(names)
	writers := make([]func(io.Writer), len(names))
	for i, name := range names {
		writers[i] = r.sources[name]
	}
	r.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, write := range writers {
		write(w)
	}
}

// WriteMetrics writes the wire server's metrics: open connections per
// virtual cluster and connections accepted since start.
func (s *Server) WriteMetrics(w io.Writer) {
	perCluster := map[string]int{}
	s.mu.Lock()
	for _, c := range s.mu.conns {
		if name := c.cluster.Load(); name != nil {
			perCluster[*name]++
		}
	}
	s.mu.Unlock()
	names := make([]string, 0, len(perCluster))
	for name := range perCluster {
		names = append(names, name)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "# HELP sql_conns Number of open SQL connections\n# TYPE sql_conns gauge\n")
	for _, name := range names {
		fmt.Fprintf(w, "sql_conns{tenant=%q} %d\n", name, perCluster[name])
	}
	fmt.Fprintf(w, "# HELP sql_new_conns Number of SQL connections accepted\n# TYPE sql_new_conns counter\n")
	fmt.Fprintf(w, "sql_new_conns %d\n", s.newConns.Load())
}
