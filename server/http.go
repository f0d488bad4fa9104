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

// clusterCounters are the wire server's counters per virtual cluster.
type clusterCounters struct {
	mu sync.Mutex
	m  map[string]*clusterCount
}

type clusterCount struct {
	newConns, failures, authFailures int64
}

func (cc *clusterCounters) get(name string) *clusterCount {
	if cc.m == nil {
		cc.m = map[string]*clusterCount{}
	}
	c := cc.m[name]
	if c == nil {
		c = &clusterCount{}
		cc.m[name] = c
	}
	return c
}

// opened counts a connection whose session started.
func (cc *clusterCounters) opened(name string) {
	cc.mu.Lock()
	cc.get(name).newConns++
	cc.mu.Unlock()
}

// failure counts a connection that was routed to name and then failed
// to start. Failures before routing (unknown clusters included) are not
// counted per cluster: a client must not be able to create labels.
func (cc *clusterCounters) failure(name string) {
	if name == "" {
		return
	}
	cc.mu.Lock()
	cc.get(name).failures++
	cc.mu.Unlock()
}

// authFailure counts a failed login.
func (cc *clusterCounters) authFailure(name string) {
	cc.mu.Lock()
	cc.get(name).authFailures++
	cc.mu.Unlock()
}

// WriteMetrics writes the wire server's metrics, each with a tenant label
// naming the virtual cluster: open connections, sessions started,
// connections that failed after routing (authentication, unknown
// database, ...), and failed logins.
func (s *Server) WriteMetrics(w io.Writer) {
	conns := map[string]int64{}
	s.mu.Lock()
	for _, c := range s.mu.conns {
		if name := c.cluster.Load(); name != nil {
			conns[*name]++
		}
	}
	s.mu.Unlock()
	counts := map[string]clusterCount{}
	s.metrics.mu.Lock()
	for name, c := range s.metrics.m {
		counts[name] = *c
	}
	s.metrics.mu.Unlock()
	names := make([]string, 0, len(counts)+len(conns))
	for name := range counts {
		names = append(names, name)
	}
	for name := range conns {
		if _, ok := counts[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	family := func(name, typ, help string, value func(cluster string) int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, cluster := range names {
			fmt.Fprintf(w, "%s{tenant=%q} %d\n", name, cluster, value(cluster))
		}
	}
	family("sql_conns", "gauge", "Number of open SQL connections",
		func(n string) int64 { return conns[n] })
	family("sql_new_conns", "counter", "Number of SQL connections whose session started",
		func(n string) int64 { return counts[n].newConns })
	family("sql_conn_failures", "counter", "Number of SQL connections that failed to start after routing",
		func(n string) int64 { return counts[n].failures })
	family("sql_auth_failures", "counter", "Number of failed logins",
		func(n string) int64 { return counts[n].authFailures })
	fmt.Fprintf(w, "# HELP sql_accepted_conns Number of TCP connections accepted by the SQL listener\n# TYPE sql_accepted_conns counter\n")
	fmt.Fprintf(w, "sql_accepted_conns %d\n", s.newConns.Load())
}
