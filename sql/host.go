package sql

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// HostConfig configures the SQL layer of one physical cluster.
type HostConfig struct {
	KV *kv.Engine
	// Logf reports service changes and background work; nil discards.
	Logf func(format string, args ...interface{})

	// Dial opens a connection to a replication source (the primary's
	// system VC) from a source URI, after 'external://' references were
	// resolved: the wire server supplies one built from certs.ParseURI
	// and replication.NewPGSource. nil: this node cannot replicate from
	// another (CREATE ... FROM REPLICATION fails with 0A000); it can
	// still be a source.
	Dial Dialer

	// Replication tunes the producer and the consumer (tests).
	Replication ReplicationKnobs

	// ReplicationStatus overrides the source of the replication columns of
	// SHOW VIRTUAL CLUSTER ... WITH REPLICATION STATUS and of the status
	// string SHOW VIRTUAL CLUSTERS prints as the data_state of a VC with a
	// consumer job. nil: the Host's own consumer (replication.go).
	ReplicationStatus ReplicationStatusProvider

	// ReaderReadOnlyAt overrides, for a read-only view (a record with
	// ReadFrom set), the function giving the timestamp its reads use
	// (Config.ReadOnlyAt). nil: the replicated time from the Host's own
	// consumer (Host.readerReadOnlyAt).
	ReaderReadOnlyAt func(rec *tenant.Record) func() kv.Timestamp

	// OnDrop is called when DROP VIRTUAL CLUSTER has marked a VC dropping,
	// before its data is cleared (the Host's consumer cancelled the VC's
	// consumer job before, releasing its protections and telling its
	// source). Its error is logged (the drop stands). nil: nothing more.
	OnDrop func(ctx context.Context, rec *tenant.Record) error

	// StopTimeout bounds how long STOP SERVICE and Close wait for a VC's
	// running statements to end after cancelling them; 0 means
	// DefaultStopTimeout.
	StopTimeout time.Duration

	// Knobs are testing hooks.
	Knobs HostKnobs
}

// HostKnobs are testing hooks of a Host.
type HostKnobs struct {
	// BeforeDropClear, when set, is called by the background drop job
	// before it clears a dropped VC's data (a test can block it to observe
	// the dropping state). It must return once ctx is done.
	BeforeDropClear func(ctx context.Context, id tenant.ID)
}

// DefaultStopTimeout bounds a synchronous STOP SERVICE. CockroachDB waits up
// to 10 minutes for every node; one node whose statements are cancelled
// needs far less.
const DefaultStopTimeout = 10 * time.Second

// ReplicationStatusProvider gives the replication state of a VC, for SHOW
// VIRTUAL CLUSTER ... WITH REPLICATION STATUS. Status returns nil (and no
// error) for a VC that has no consumer job. It must be safe for concurrent
// use and must not call back into the Host.
type ReplicationStatusProvider interface {
	Status(ctx context.Context, id tenant.ID) (*replication.ReplicationStatus, error)
}

// InitMode says how Initialize sets up a new physical cluster
// (start-single-node's flags).
type InitMode int

const (
	// InitPlain is a cluster without virtualization: user data lives in
	// the system VC.
	InitPlain InitMode = iota
	// InitVirtualized (--virtualized) creates the application VC "main",
	// starts its service and makes it the default target cluster.
	InitVirtualized
	// InitVirtualizedEmpty (--virtualized-empty) only makes "main" the
	// default target cluster, for a standby that receives main later.
	InitVirtualizedEmpty
)

// Host is the SQL layer of one physical cluster: the VC records
// (tenant.Store) and the running SQL service of each VC whose service
// mode is shared (tenant.Registry), over one kv.Engine. The wire server
// routes each connection with Lookup and DefaultTargetCluster.
//
// Service changes (START/STOP SERVICE, RENAME, DROP, CREATE) are
// serialized by mu, so that a VC's record and the registry agree whenever
// mu is free: a VC is in the registry exactly while its record says
// shared (the system VC always). The record is written before the
// registry changes on start and after it changes on stop, so a crash
// leaves at worst a record saying shared or stopping for a VC without a
// service, which NewHost repairs.
//
// Goroutines: the Host owns the drop job (host_drop.go), the
// auto-finalizer of the system VC's cluster version (version_finalize.go)
// and the replication producer's and consumer's goroutines
// (replication.go), all started by NewHost and stopped by Close.
type Host struct {
	cfg      HostConfig
	kv       *kv.Engine
	store    *tenant.Store
	registry *tenant.Registry
	system   *Server

	clusterID string
	// defaultTarget caches server.controller.default_target_cluster of the
	// system VC, updated when it is SET.
	defaultTarget atomic.Pointer[string]
	// virtualized is true when the cluster has an application VC or routes
	// connections elsewhere than the system VC by default: only then is
	// logging in to the system VC restricted (UserInfo.MayConnect).
	virtualized atomic.Bool

	// mu serializes changes to VC records and services.
	mu sync.Mutex

	drop struct {
		wake   chan struct{}
		cancel context.CancelFunc
		wg     sync.WaitGroup
	}
	closed atomic.Bool

	// producer and consumer are the physical cluster's replication
	// (replication.go).
	producer *replication.Producer
	consumer *replication.Consumer

	// autoFinal finalizes the system VC to the binary's release.
	autoFinal autoFinalizer
}

// NewHost bootstraps the VC records and the system VC's catalog, starts the
// system VC's service, starts the service of every VC whose record says
// shared (so services come back after a restart), and starts the drop
// job and the auto-finalizer. A store this binary cannot run (its cluster
// version is newer than the binary, or older than the release before it)
// is refused with a *StoreVersionError before anything is written.
func NewHost(ctx context.Context, cfg HostConfig) (*Host, error) {
	if cfg.KV == nil {
		return nil, errors.New("sql: HostConfig.KV is required")
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...interface{}) {}
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if err := checkStoreVersion(ctx, cfg.KV); err != nil {
		return nil, err
	}
	h := &Host{
		cfg:      cfg,
		kv:       cfg.KV,
		store:    tenant.NewStore(cfg.KV),
		registry: tenant.NewRegistry(),
	}
	if err := h.store.Bootstrap(ctx); err != nil {
		return nil, errors.Wrap(err, "bootstrapping virtual cluster records")
	}
	id, err := h.loadClusterID(ctx)
	if err != nil {
		return nil, err
	}
	h.clusterID = id
	sys, err := NewServer(ctx, Config{KV: cfg.KV, TenantID: tenant.SystemID, TenantName: tenant.SystemName})
	if err != nil {
		return nil, err
	}
	sys.host = h
	h.system = sys
	h.registry.Add(tenant.SystemID, tenant.SystemName, sys)
	if err := h.loadDefaultTarget(ctx); err != nil {
		h.stopAll(ctx)
		return nil, err
	}
	// The consumer exists before the services start (a read-only VC's
	// reads ask it for the replicated time) and resumes its jobs after
	// (their hooks start services).
	if err := h.initReplication(ctx); err != nil {
		h.stopAll(ctx)
		return nil, err
	}
	if h.cfg.ReplicationStatus == nil {
		h.cfg.ReplicationStatus = h.consumer
	}
	if err := h.startSharedServices(ctx); err != nil {
		h.stopAll(ctx)
		return nil, err
	}
	h.startDropJob()
	if err := h.startReplication(ctx); err != nil {
		h.closed.Store(true)
		h.stopReplication()
		h.stopDropJob()
		h.stopAll(ctx)
		return nil, err
	}
	h.startAutoFinalizer()
	return h, nil
}

// System returns the system VC's SQL server.
func (h *Host) System() *Server { return h.system }

// Lookup returns the running service of the VC named name.
func (h *Host) Lookup(name string) (*Server, bool) {
	svc, _, ok := h.registry.Lookup(name)
	if !ok {
		return nil, false
	}
	return svc.(*Server), true
}

// Registry returns the registry of running services (for metrics labels
// and tests). Only the Host changes it.
func (h *Host) Registry() *tenant.Registry { return h.registry }

// Store returns the VC record store.
func (h *Host) Store() *tenant.Store { return h.store }

// DefaultTargetCluster returns server.controller.default_target_cluster of
// the system VC ("system" when unset). It reads a cached value.
func (h *Host) DefaultTargetCluster() string { return *h.defaultTarget.Load() }

// ClusterID returns the physical cluster's id, a random UUID made when the
// store was first used.
func (h *Host) ClusterID() string { return h.clusterID }

// Virtualized reports whether the cluster is virtualized: it has an
// application VC, or its default target cluster is not the system VC.
func (h *Host) Virtualized() bool { return h.virtualized.Load() }

// Close stops every service (application VCs first, then the system VC)
// and the drop job. It does not close the kv.Engine.
func (h *Host) Close(ctx context.Context) {
	if !h.closed.CompareAndSwap(false, true) {
		return
	}
	// Replication first: its jobs write records, start and drop read-only
	// services, and stream from other clusters; nothing of it may outlive
	// the services or the engine. Then the drop job: it writes records and
	// must not race the stop of the services below or outlive the engine
	// its owner closes next. The auto-finalizer, which writes the system
	// VC's version, stops before all of them.
	h.stopAutoFinalizer()
	h.stopReplication()
	h.stopDropJob()
	h.stopAll(ctx)
}

// stopAll stops every running service, the system VC last, without
// touching the records: services marked shared come back at the next
// NewHost. The services leave the registry under mu but are drained
// after it is released, so that a VC statement of the system VC waiting
// for mu can finish instead of holding up the drain until StopTimeout.
func (h *Host) stopAll(ctx context.Context) {
	h.mu.Lock()
	var apps []*Server
	for _, id := range h.registry.Running() {
		if id == tenant.SystemID {
			continue
		}
		if svc := h.registry.Remove(id); svc != nil {
			apps = append(apps, svc.(*Server))
		}
	}
	sys := h.registry.Remove(tenant.SystemID)
	h.mu.Unlock()
	for _, srv := range apps {
		h.stopService(ctx, srv)
	}
	if sys != nil {
		h.stopService(ctx, sys.(*Server))
	}
}

// stopService drains srv within StopTimeout.
func (h *Host) stopService(ctx context.Context, srv *Server) {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.StopTimeout)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		h.cfg.Logf("stopping the SQL service of virtual cluster %q: %v", srv.TenantName(), err)
	}
}

// clusterIDKey is where the cluster id is kept.
func clusterIDKey() []byte { return append(tenant.MetaPrefix(tenant.MetaCluster), "cluster_id"...) }

func (h *Host) loadClusterID(ctx context.Context) (string, error) {
	var id string
	err := tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		v, found, err := txn.Get(ctx, clusterIDKey())
		if err != nil {
			return err
		}
		if found {
			id = string(v)
			return nil
		}
		id = newUUID()
		return txn.Put(clusterIDKey(), []byte(id))
	})
	return id, errors.Wrap(err, "loading the cluster id")
}

// newUUID returns a random (version 4) UUID in its text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// loadDefaultTarget reads the default target cluster setting into the
// cache and recomputes Virtualized.
func (h *Host) loadDefaultTarget(ctx context.Context) error {
	txn := h.kv.Begin(kv.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	v, found, err := catalog.GetSetting(ctx, txn, h.system.keys, settingDefaultTargetCluster)
	if err != nil {
		return errors.Wrap(err, "reading the default target cluster")
	}
	if !found {
		v = tenant.SystemName
	}
	h.defaultTarget.Store(&v)
	return h.refreshVirtualized(ctx, nil)
}

// refreshVirtualized recomputes Virtualized from the records (read in txn,
// or in a fresh transaction when txn is nil).
func (h *Host) refreshVirtualized(ctx context.Context, txn *kv.Txn) error {
	recs, err := h.store.List(ctx, txn)
	if err != nil {
		return err
	}
	v := h.DefaultTargetCluster() != tenant.SystemName
	for _, r := range recs {
		if !r.IsSystem() && r.Visible() {
			v = true
		}
	}
	h.virtualized.Store(v)
	return nil
}

// startSharedServices starts, at boot, the service of every VC whose record
// says shared, and finishes stops interrupted by a crash.
func (h *Host) startSharedServices(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	recs, err := h.store.List(ctx, nil)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if rec.IsSystem() || !rec.Visible() {
			continue
		}
		switch rec.ServiceMode {
		case tenant.ServiceModeStopping:
			// The process ended during STOP SERVICE: the service is
			// stopped now, so the stop is complete.
			if err := h.store.Update(ctx, rec.ID, func(r *tenant.Record) error {
				r.ServiceMode = tenant.ServiceModeNone
				return nil
			}); err != nil {
				return err
			}
		case tenant.ServiceModeShared:
			if err := h.startServiceLocked(ctx, rec); err != nil {
				// One VC that cannot start must not keep the others (and
				// the system VC) down.
				h.cfg.Logf("starting the SQL service of virtual cluster %q: %v", rec.Name, err)
			}
		}
	}
	return nil
}

// startServiceLocked starts and registers the SQL service of rec.
func (h *Host) startServiceLocked(ctx context.Context, rec *tenant.Record) error {
	if h.closed.Load() {
		// Close has emptied (or is emptying) the registry: nothing may
		// join it any more.
		return pgerror.Newf(pgcode.AdminShutdown, "the node is shutting down")
	}
	cfg := Config{KV: h.kv, TenantID: rec.ID, TenantName: rec.Name}
	if rec.ReadFrom != 0 {
		cfg.TenantID = rec.ReadFrom
		cfg.ReadOnlyAt = h.readerReadOnlyAt(rec)
	}
	srv, err := NewServer(ctx, cfg)
	if err != nil {
		return err
	}
	srv.host = h
	srv.recordID = rec.ID
	if !h.registry.Add(rec.ID, rec.Name, srv) {
		srv.Close()
		return errors.AssertionFailedf("virtual cluster %q (%d) is already served", rec.Name, rec.ID)
	}
	h.cfg.Logf("started the SQL service of virtual cluster %q (%d)", rec.Name, rec.ID)
	return nil
}

// Initialize sets up a new cluster for mode (start-single-node's
// --virtualized and --virtualized-empty). It may be called at every start:
// the steps run once per store, the first time a virtualized mode is
// given, and later calls do nothing, so that a user who stops or drops
// main, or changes the default target cluster, keeps that choice across
// restarts. InitPlain does nothing.
func (h *Host) Initialize(ctx context.Context, mode InitMode) error {
	if mode == InitPlain {
		return nil
	}
	done, err := h.initDone(ctx)
	if err != nil || done {
		return err
	}
	if mode == InitVirtualized {
		if _, err := h.createVirtualCluster(ctx, vcSpec{name: initMainVC}, true); err != nil {
			return errors.Wrap(err, "creating virtual cluster main")
		}
		if err := h.setServiceMode(ctx, vcSpec{name: initMainVC}, tenant.ServiceModeShared); err != nil {
			return errors.Wrap(err, "starting virtual cluster main")
		}
	}
	// As CockroachDB's init does for both modes: route connections that
	// name no VC to main, and enable rangefeeds for replication streams of
	// the system VC.
	if err := h.setSystemSetting(ctx, settingDefaultTargetCluster, initMainVC); err != nil {
		return err
	}
	if err := h.setSystemSetting(ctx, settingRangefeedEnabled, "true"); err != nil {
		return err
	}
	return tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		return txn.Put(initDoneKey(), []byte(fmt.Sprint(int(mode))))
	})
}

// initMainVC is the application VC --virtualized creates.
const initMainVC = "main"

func initDoneKey() []byte { return append(tenant.MetaPrefix(tenant.MetaCluster), "init_mode"...) }

func (h *Host) initDone(ctx context.Context) (bool, error) {
	txn := h.kv.Begin(kv.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	_, found, err := txn.Get(ctx, initDoneKey())
	return found, err
}

// setSystemSetting stores a cluster setting of the system VC and applies
// its effect on the Host.
func (h *Host) setSystemSetting(ctx context.Context, name, value string) error {
	if err := tenant.RunTxn(ctx, h.kv, func(txn *kv.Txn) error {
		return catalog.PutSetting(txn, h.system.keys, name, value)
	}); err != nil {
		return err
	}
	return h.settingChanged(ctx, name)
}

// settingChanged is called after a cluster setting of the system VC
// committed.
func (h *Host) settingChanged(ctx context.Context, name string) error {
	switch name {
	case settingDefaultTargetCluster:
		return h.loadDefaultTarget(ctx)
	case settingPreserveDowngrade, settingAutoUpgrade:
		// Resetting the option (or enabling auto-upgrade) lets the
		// system VC finalize now, as in CockroachDB.
		h.wakeAutoFinalizer()
	}
	return nil
}
