package sql

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// Physical cluster replication, as the Host runs it.
//
// The Host owns one replication.Producer (the source side: the
// crdb_internal builtins of replication_builtins.go call it) and one
// replication.Consumer (the standby side: the statements of
// replication_stmt.go call it), both over the Host's engine and record
// store. They start with the Host (the producer's janitor; the consumer
// resumes every persisted job) and stop in Host.Close before anything
// they use.
//
// The consumer reaches a primary through HostConfig.Dial, which the wire
// server supplies (it owns the URI parser and TLS: package sql imports
// neither certs nor pgconn's configuration); 'external://name' URIs are
// resolved here first, from the external connections of the system VC.
// The stored URI stays 'external://name', so that a changed connection is
// used at the next reconnect and SHOW never prints a secret.
//
// The consumer calls back into the Host when a read-only VC becomes ready
// (start its service) and during a failover to a past time (drop the
// read-only VC). The hooks run in the consumer's job goroutines and take
// h.mu; so the Host never waits for a job while it holds h.mu (DROP
// VIRTUAL CLUSTER cancels a job before taking it).

// Dialer opens a replication source from a (resolved) source URI; see
// HostConfig.Dial.
type Dialer func(ctx context.Context, uri string) (replication.Source, error)

// ReplicationKnobs tune the Host's producer and consumer (tests and
// benchmarks; nil functions change nothing).
type ReplicationKnobs struct {
	Producer func(*replication.ProducerConfig)
	Consumer func(*replication.ConsumerConfig)
}

// initReplication makes the producer and the consumer; startReplication
// starts them once the services are up.
func (h *Host) initReplication(ctx context.Context) error {
	pcfg := replication.ProducerConfig{
		Engine: h.kv, Records: h.store, ClusterID: h.clusterID,
		TenantVersion: h.clusterVersion,
		// The version setting's key within a VC (no tenant prefix).
		VersionKey: catalog.Keys{}.Setting(catalog.VersionSetting),
	}
	if f := h.cfg.Replication.Producer; f != nil {
		f(&pcfg)
	}
	h.producer = replication.NewProducer(pcfg)
	ccfg := replication.ConsumerConfig{
		Engine: h.kv, Records: h.store, ClusterID: h.clusterID,
		TenantVersion: h.clusterVersion,
		Producer:      h.producer,
		Dial:          h.dialSource,
		Hooks: replication.ConsumerHooks{
			ReaderActivated: h.startReaderService,
			DropReader:      h.dropReader,
			Paused: func(vc, reason string) {
				h.cfg.Logf("replication of virtual cluster %q paused: %s (ALTER VIRTUAL CLUSTER %s RESUME REPLICATION once resolved)", vc, reason, vc)
			},
		},
	}
	if f := h.cfg.Replication.Consumer; f != nil {
		f(&ccfg)
	}
	h.consumer = replication.NewConsumer(ccfg)
	return nil
}

// startReplication starts the producer's janitor and resumes the
// consumer's jobs.
func (h *Host) startReplication(ctx context.Context) error {
	h.producer.Start()
	return errors.Wrap(h.consumer.Start(ctx), "resuming replication jobs")
}

// stopReplication stops the consumer's jobs (they resume at the next
// start) and the producer's janitor. Streams the producer serves belong to
// sessions, which the wire server ended before.
func (h *Host) stopReplication() {
	if h.consumer != nil {
		h.consumer.Close()
	}
	if h.producer != nil {
		h.producer.Close()
	}
}

// Producer returns the physical cluster's replication producer.
func (h *Host) Producer() *replication.Producer { return h.producer }

// Consumer returns the physical cluster's replication consumer.
func (h *Host) Consumer() *replication.Consumer { return h.consumer }

// dialSource is the consumer's Dialer: it resolves an external connection
// and hands the URI to HostConfig.Dial.
func (h *Host) dialSource(ctx context.Context, uri string) (replication.Source, error) {
	if h.cfg.Dial == nil {
		return nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"this node cannot connect to a replication source (no dialer configured)")
	}
	resolved, err := h.resolveExternalURI(ctx, uri)
	if err != nil {
		return nil, err
	}
	src, err := h.cfg.Dial(ctx, resolved)
	if err != nil {
		return nil, pgerror.WithCandidateCode(err, pgcode.InvalidParameterValue)
	}
	return src, nil
}

// resolveExternalURI returns the URI an 'external://name' names (other URIs
// as given), without a privilege check: the user's right to use the
// connection was checked by the statement that stored the reference.
func (h *Host) resolveExternalURI(ctx context.Context, uri string) (string, error) {
	name, ok := strings.CutPrefix(uri, ExternalConnectionPrefix)
	if !ok {
		return uri, nil
	}
	txn := h.kv.Begin(kv.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	ec, err := getExternalConnection(ctx, txn, name)
	if err != nil {
		return "", err
	}
	if ec == nil {
		return "", pgerror.Newf(pgcode.UndefinedObject, "external connection %q does not exist", name)
	}
	return ec.URI, nil
}

// clusterVersion returns VC id's cluster version (its version setting,
// read now: an operator may have finalized it a moment ago). The
// replication producer and consumer call it for the source VC's and the
// standby system VC's versions (replication/versions.go).
func (h *Host) clusterVersion(ctx context.Context, id tenant.ID) (tenant.Version, error) {
	txn := h.kv.Begin(kv.TxnOptions{ReadOnly: true})
	defer txn.Rollback()
	v, found, err := catalog.GetSetting(ctx, txn, catalog.Keys{Prefix: tenant.Prefix(id)}, catalog.VersionSetting)
	if err != nil {
		return tenant.Version{}, err
	}
	if !found || v == "" {
		// A VC that records no version (being created or replicated in:
		// its setting arrives with its data) is not checked.
		return tenant.Version{}, nil
	}
	return tenant.ParseVersion(v)
}

// readerReadOnlyAt returns the timestamp function of the read-only VC rec
// (Config.ReadOnlyAt): every transaction of the view reads at the durable
// replicated time of the VC it reads from, taken from the consumer's
// memory (an atomic, no I/O). When the consumer job is not running here
// (before the consumer resumed its jobs at boot, or after the failover,
// which freezes the view at the failover time) it reads the persisted
// state, and keeps a frozen time once it found one.
func (h *Host) readerReadOnlyAt(rec *tenant.Record) func() kv.Timestamp {
	if h.cfg.ReaderReadOnlyAt != nil {
		return h.cfg.ReaderReadOnlyAt(rec)
	}
	reader := *rec
	var (
		jobID  atomic.Int64
		last   atomic.Pointer[kv.Timestamp]
		frozen atomic.Bool
	)
	return func() kv.Timestamp {
		if frozen.Load() {
			return *last.Load()
		}
		if id := jobID.Load(); id != 0 {
			if ts, ok := h.consumer.ReplicatedTime(id); ok {
				last.Store(&ts)
				return ts
			}
		}
		ctx := context.Background()
		if src, err := h.store.Get(ctx, nil, reader.ReadFrom); err == nil {
			jobID.Store(src.ConsumerJobID)
			switch {
			case src.ConsumerJobID != 0:
				if ts, ok := h.consumer.ReplicatedTime(src.ConsumerJobID); ok {
					last.Store(&ts)
					return ts
				}
				if st, err := h.consumer.Status(ctx, src.ID); err == nil && st != nil && !st.ReplicatedTime.IsEmpty() {
					ts := st.ReplicatedTime
					last.Store(&ts)
					return ts
				}
			case src.Prior != nil:
				if ts, err := kv.ParseTimestamp(src.Prior.ActivationTime); err == nil {
					last.Store(&ts)
					frozen.Store(true)
					return ts
				}
			}
		}
		if ts := last.Load(); ts != nil {
			return *ts
		}
		// Nothing replicated yet: read below every version rather than at
		// now, which would show a partial copy.
		return kv.Timestamp{Logical: 1}
	}
}

// startReaderService starts the service of a read-only VC the consumer
// just activated (its record says ready and shared).
func (h *Host) startReaderService(ctx context.Context, id tenant.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return
	}
	rec, err := h.store.Get(ctx, nil, id)
	if err != nil || rec.ServiceMode != tenant.ServiceModeShared || rec.DataState != tenant.DataStateReady {
		return
	}
	if _, running := h.registry.LookupID(id); running {
		return
	}
	if err := h.startServiceLocked(ctx, rec); err != nil {
		h.cfg.Logf("starting the read-only virtual cluster %q: %v", rec.Name, err)
	}
}

// dropReader stops and drops a read-only VC during a failover to a past
// time (CONTRACT §4); its own span is then cleared by the drop job.
func (h *Host) dropReader(ctx context.Context, id tenant.ID) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed.Load() {
		return pgerror.Newf(pgcode.AdminShutdown, "the node is shutting down")
	}
	if svc := h.registry.Remove(id); svc != nil {
		h.stopService(ctx, svc.(*Server))
	}
	var name string
	err := h.store.Update(ctx, id, func(r *tenant.Record) error {
		name = ""
		if r.DataState == tenant.DataStateDropping || r.DataState == tenant.DataStateDropped {
			return nil
		}
		name = r.Name
		r.DataState = tenant.DataStateDropping
		r.ServiceMode = tenant.ServiceModeNone
		r.DroppedName, r.Name = r.Name, ""
		return nil
	})
	if err != nil {
		return err
	}
	if name != "" {
		h.cfg.Logf("dropped the read-only virtual cluster %q (%d) for a failover to a past time", name, id)
	}
	h.wakeDropJob()
	return h.refreshVirtualized(ctx, nil)
}

// DefaultSourceConnectTimeout bounds a connection attempt to a replication
// source whose URI sets no connect_timeout: CREATE ... FROM REPLICATION
// validates the source synchronously, and an unreachable host must fail
// the statement rather than hang it for the operating system's TCP
// timeout.
const DefaultSourceConnectTimeout = 10 * time.Second

// PGDialer returns a Dialer over pgwire: parse turns a source URI into a
// connection configuration (the wire server passes certs.ParseURI, which
// knows sslinline and TLS; package sql does not import certs), and the
// source is replication.NewPGSource's, which connects lazily.
func PGDialer(parse func(uri string) (*pgconn.Config, error)) Dialer {
	return func(ctx context.Context, uri string) (replication.Source, error) {
		cfg, err := parse(uri)
		if err != nil {
			return nil, pgerror.WithCandidateCode(errors.Wrap(err, "invalid replication source URI"), pgcode.InvalidParameterValue)
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = DefaultSourceConnectTimeout
		}
		return replication.NewPGSource(cfg), nil
	}
}
