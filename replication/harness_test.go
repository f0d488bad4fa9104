package replication

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/tenant"
)

// The test harness: physical clusters in one process, each a kv engine on
// its own crash-capable in-memory file system with a record store, a
// Producer and a Consumer. Clusters reach each other through an in-process
// Source; the dialer can cut streams and refuse connections (faults).

type testCluster struct {
	name      string
	clusterID string
	fs        *vfs.MemFS
	eng       *kv.Engine
	records   *tenant.Store
	producer  *Producer
	consumer  *Consumer
	env       *testEnv
	// wall is the producer's and consumer's wall clock offset (expiry
	// tests move it forward).
	wallOffset atomic.Int64
	// versions are the VCs' cluster versions the producer's and
	// consumer's TenantVersion hooks report (unset: zero, unchecked), and
	// maxFraming the consumer's announced framing (0: the binary's); they
	// survive restarts, as a store and a binary would.
	verMu      sync.Mutex
	versions   map[tenant.ID]tenant.Version
	maxFraming byte
}

func (c *testCluster) setVersion(id tenant.ID, v tenant.Version) {
	c.verMu.Lock()
	defer c.verMu.Unlock()
	if c.versions == nil {
		c.versions = map[tenant.ID]tenant.Version{}
	}
	c.versions[id] = v
}

func (c *testCluster) tenantVersion(_ context.Context, id tenant.ID) (tenant.Version, error) {
	c.verMu.Lock()
	defer c.verMu.Unlock()
	return c.versions[id], nil
}

type testEnv struct {
	t        testing.TB
	mu       sync.Mutex
	clusters map[string]*testCluster
	// faults
	refuseDial atomic.Bool
	streams    struct {
		sync.Mutex
		open map[*faultStream]struct{}
		// specs records every partition spec asked for, in order.
		specs []PartitionSpec
		// cutAfter, if > 0, cuts each of the next cutsLeft streams after
		// that many frames.
		cutAfter, cutsLeft int
	}
	opts envOptions
}

type envOptions struct {
	checkpointInterval time.Duration
	heartbeat          time.Duration
	retry              RetryPolicy
	frameBytes         int
	flushBytes         int
	scanBatchBytes     int
	// dir, if set, puts each cluster's store on disk under it (benchmarks)
	// instead of a crash-capable in-memory file system.
	dir string
}

func defaultEnvOptions() envOptions {
	return envOptions{
		checkpointInterval: 5 * time.Millisecond,
		heartbeat:          20 * time.Millisecond,
		retry:              RetryPolicy{MaxRetries: 8, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
	}
}

func newTestEnv(t testing.TB, opts envOptions) *testEnv {
	env := &testEnv{t: t, clusters: map[string]*testCluster{}, opts: opts}
	env.streams.open = map[*faultStream]struct{}{}
	t.Cleanup(env.close)
	return env
}

func (env *testEnv) close() {
	env.mu.Lock()
	cs := make([]*testCluster, 0, len(env.clusters))
	for _, c := range env.clusters {
		cs = append(cs, c)
	}
	env.mu.Unlock()
	// Consumers first: they stream from the producers.
	for _, c := range cs {
		c.stopServices()
	}
	for _, c := range cs {
		if c.eng != nil {
			_ = c.eng.Close()
		}
	}
}

func (env *testEnv) cluster(name string) *testCluster {
	env.mu.Lock()
	defer env.mu.Unlock()
	c := env.clusters[name]
	if c == nil {
		env.t.Fatalf("no cluster %q", name)
	}
	return c
}

// addCluster creates and starts a cluster.
func (env *testEnv) addCluster(name string) *testCluster {
	c := &testCluster{name: name, clusterID: "cluster-" + name, fs: vfs.NewCrashableMem(), env: env}
	env.mu.Lock()
	env.clusters[name] = c
	env.mu.Unlock()
	c.open()
	if err := c.records.Bootstrap(context.Background()); err != nil {
		env.t.Fatal(err)
	}
	c.startServices()
	return c
}

func (c *testCluster) now() time.Time {
	return time.Now().Add(time.Duration(c.wallOffset.Load()))
}

func (c *testCluster) open() {
	opts := kv.Options{FS: c.fs, Dir: "db", CheckpointInterval: c.env.opts.checkpointInterval, GCInterval: -1}
	if c.env.opts.dir != "" {
		opts.FS, opts.Dir = nil, c.env.opts.dir+"/"+c.name
	}
	eng, err := kv.Open(opts)
	if err != nil {
		c.env.t.Fatal(err)
	}
	c.eng = eng
	c.records = tenant.NewStore(eng)
}

func (c *testCluster) startServices() { c.startServicesWith(nil) }

// startServicesWith starts the producer and consumer; adjust, if set,
// changes the consumer's configuration first.
func (c *testCluster) startServicesWith(adjust func(*ConsumerConfig)) {
	env := c.env
	c.producer = NewProducer(ProducerConfig{
		Engine: c.eng, Records: c.records, ClusterID: c.clusterID,
		JanitorInterval: time.Hour, FrameBytes: env.opts.frameBytes, Now: c.now,
		TenantVersion: c.tenantVersion, VersionCheckInterval: 10 * time.Millisecond,
	})
	c.producer.Start()
	ccfg := ConsumerConfig{
		Engine: c.eng, Records: c.records, ClusterID: c.clusterID, Producer: c.producer,
		Dial: env.dial, HeartbeatInterval: env.opts.heartbeat, Retry: env.opts.retry,
		FlushBytes: env.opts.flushBytes, ScanBatchBytes: env.opts.scanBatchBytes,
		SourceCompleteTimeout: time.Second,
		TenantVersion:         c.tenantVersion, MaxFraming: c.maxFraming,
		Hooks: ConsumerHooks{DropReader: func(ctx context.Context, id tenant.ID) error {
			return c.records.Update(ctx, id, func(r *tenant.Record) error {
				r.DroppedName, r.Name = r.Name, ""
				r.DataState, r.ServiceMode = tenant.DataStateDropped, tenant.ServiceModeNone
				return nil
			})
		}},
	}
	if adjust != nil {
		adjust(&ccfg)
	}
	c.consumer = NewConsumer(ccfg)
	if err := c.consumer.Start(context.Background()); err != nil {
		c.env.t.Fatal(err)
	}
}

func (c *testCluster) stopServices() {
	if c.consumer != nil {
		c.consumer.Close()
		c.consumer = nil
	}
	if c.producer != nil {
		c.producer.Close()
		c.producer = nil
	}
}

// restart closes the cluster cleanly and reopens it from its files.
func (c *testCluster) restart() {
	c.env.mu.Lock()
	c.stopServices()
	c.env.mu.Unlock()
	if err := c.eng.Close(); err != nil {
		c.env.t.Fatal(err)
	}
	c.open()
	c.startServices()
}

// crash simulates kill -9: the cluster's services stop, and it reopens from
// a copy of its file system holding only what was synced.
func (c *testCluster) crash() { c.crashAndInspect(nil) }

// crashAndInspect crashes the cluster and calls inspect on the reopened
// engine before its services start again.
func (c *testCluster) crashAndInspect(inspect func(eng *kv.Engine)) {
	clone := c.fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
	c.env.mu.Lock()
	c.stopServices()
	c.env.mu.Unlock()
	_ = c.eng.Close()
	c.fs = clone
	c.open()
	if inspect != nil {
		inspect(c.eng)
	}
	c.startServices()
}

// createVC creates a ready application VC.
func (c *testCluster) createVC(name string) tenant.ID {
	id, err := c.records.Create(context.Background(), nil, &tenant.Record{
		Name: name, DataState: tenant.DataStateReady, ServiceMode: tenant.ServiceModeShared,
	})
	if err != nil {
		c.env.t.Fatal(err)
	}
	return id
}

func (c *testCluster) vc(name string) *tenant.Record {
	rec, err := c.records.GetByName(context.Background(), nil, name)
	if err != nil {
		c.env.t.Fatal(err)
	}
	return rec
}

// dial resolves inproc://<cluster> to the cluster's current producer.
func (env *testEnv) dial(ctx context.Context, uri string) (Source, error) {
	if env.refuseDial.Load() {
		return nil, errors.New("test: connection refused")
	}
	name, ok := strings.CutPrefix(uri, "inproc://")
	if !ok {
		return nil, errors.Newf("test: bad uri %q", uri)
	}
	env.mu.Lock()
	c := env.clusters[name]
	var p *Producer
	if c != nil {
		p = c.producer
	}
	env.mu.Unlock()
	if p == nil {
		return nil, errors.Newf("test: cluster %q is down", name)
	}
	return &faultSource{InProcessSource: NewInProcessSource(p), env: env}, nil
}

// faultSource tracks its partition streams so tests can cut them.
type faultSource struct {
	*InProcessSource
	env *testEnv
}

func (s *faultSource) StreamPartition(ctx context.Context, streamID int64, spec PartitionSpec) (FrameStream, error) {
	fs, err := s.InProcessSource.StreamPartition(ctx, streamID, spec)
	if err != nil {
		return nil, err
	}
	f := &faultStream{FrameStream: fs, cut: make(chan struct{}), env: s.env}
	s.env.streams.Lock()
	s.env.streams.open[f] = struct{}{}
	s.env.streams.specs = append(s.env.streams.specs, spec)
	if s.env.streams.cutAfter > 0 && s.env.streams.cutsLeft > 0 {
		s.env.streams.cutsLeft--
		f.cutAfter = s.env.streams.cutAfter
	}
	s.env.streams.Unlock()
	return f, nil
}

type faultStream struct {
	FrameStream
	cutAfter int // frames to deliver before failing, if > 0
	frames   int
	cut      chan struct{}
	cutOnce  sync.Once
	env      *testEnv
}

var errCut = errors.New("test: connection cut")

func (f *faultStream) Next() ([]byte, error) {
	if f.cutAfter > 0 && f.frames >= f.cutAfter {
		return nil, errCut
	}
	f.frames++
	select {
	case <-f.cut:
		return nil, errCut
	default:
	}
	type res struct {
		b   []byte
		err error
	}
	// Next of the underlying stream blocks; a cut must interrupt it.
	ch := make(chan res, 1)
	go func() {
		b, err := f.FrameStream.Next()
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-f.cut:
		_ = f.FrameStream.Close()
		<-ch
		return nil, errCut
	}
}

func (f *faultStream) Close() error {
	f.env.streams.Lock()
	delete(f.env.streams.open, f)
	f.env.streams.Unlock()
	return f.FrameStream.Close()
}

// cutStreams drops every open partition stream, as a dropped connection
// would; it returns how many it cut.
func (env *testEnv) cutStreams() int {
	env.streams.Lock()
	defer env.streams.Unlock()
	n := 0
	for f := range env.streams.open {
		f.cutOnce.Do(func() { close(f.cut) })
		n++
	}
	return n
}

// write commits puts (value != "") and deletes (value == "") to a VC in one
// transaction and returns the commit timestamp.
func (c *testCluster) write(id tenant.ID, kvs [][2]string) (kv.Timestamp, error) {
	txn := c.eng.Begin(kv.TxnOptions{})
	for _, p := range kvs {
		k := append(tenant.Prefix(id), p[0]...)
		var err error
		if p[1] == "" {
			err = txn.Delete(k)
		} else {
			err = txn.Put(k, []byte(p[1]))
		}
		if err != nil {
			txn.Rollback()
			return kv.Timestamp{}, err
		}
	}
	return txn.Commit(context.Background())
}

// succeedsSoon retries fn until it returns nil or the deadline passes.
func succeedsSoon(t testing.TB, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %v", d, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// jobOf returns the consumer job id of a VC.
func (c *testCluster) jobOf(name string) int64 {
	return c.vc(name).ConsumerJobID
}

// waitReplicated waits until the VC's replicated time is at least ts.
func (c *testCluster) waitReplicated(name string, ts kv.Timestamp, d time.Duration) {
	t := c.env.t
	t.Helper()
	succeedsSoon(t, d, func() error {
		st, err := c.consumer.Status(context.Background(), c.vc(name).ID)
		if err != nil {
			return err
		}
		if st == nil {
			return errors.New("no replication")
		}
		if st.ReplicatedTime.Less(ts) {
			return errors.Newf("replicated time %s < %s (status %s, %s)", st.ReplicatedTime, ts, st.Status, st.LastError)
		}
		return nil
	})
}

func (c *testCluster) fingerprint(name string, start, end kv.Timestamp) uint64 {
	fp, err := Fingerprint(context.Background(), c.eng, c.vc(name).ID, start, end)
	if err != nil {
		c.env.t.Fatal(err)
	}
	return fp
}
