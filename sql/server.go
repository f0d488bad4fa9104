package sql

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/tenant"
)

// Config configures the SQL server of one virtual cluster.
type Config struct {
	KV         *kv.Engine
	TenantID   tenant.ID
	TenantName string // "system" for tenant.SystemID

	// ReadOnlyAt, when set, makes the VC read-only: every transaction reads
	// at the timestamp it returns (a replicated VC's replicated time) and
	// every write fails with SQLSTATE 25006.
	ReadOnlyAt func() kv.Timestamp

	// MaxImplicitRetries bounds the automatic retries of an implicit
	// transaction after a serialization conflict (0 means the default).
	MaxImplicitRetries int
}

// defaultMaxImplicitRetries is how often a single-statement transaction is
// retried server-side before the client sees 40001. Conflicts on one node
// are short-lived, so a few dozen attempts make client-visible retries rare
// without letting a hot row spin a session forever.
const defaultMaxImplicitRetries = 50

// Server is the SQL engine of one virtual cluster. It owns the catalog cache
// shared by its sessions and the set of open sessions. Safe for concurrent
// use.
type Server struct {
	cfg   Config
	keys  catalog.Keys
	cache *catalog.Cache

	// lastRowID backs unique_rowid(); uniqueRowIDHook is the bound method.
	lastRowID       atomic.Int64
	uniqueRowIDHook func() int64

	nextSessionID atomic.Int32

	// catalogVersion is the catalog version known to be current from
	// catalogVersion.validFrom on, maintained by this server's own schema
	// changes (it is the only writer of its VC's catalog), so that
	// read-only statements skip reading the version key. ddlInFlight
	// counts schema-change commits under way; while it is non-zero
	// readers read the key. Not used for a read-only VC, whose catalog
	// changes by replication.
	catalogVersion atomic.Pointer[knownVersion]
	ddlInFlight    atomic.Int32
	// commitMu orders commits against schema changes: a transaction that
	// relied on the known catalog version checks, under the read lock, that
	// the version is still current and commits; a schema change commits
	// under the write lock.
	commitMu sync.RWMutex

	// host is the Host serving this VC, nil for a Server made alone with
	// NewServer (which then serves one VC and refuses the statements that
	// manage others). recordID is the id of the VC's record: cfg.TenantID
	// except for a read-only view, which reads another VC's span.
	host     *Host
	recordID tenant.ID

	mu struct {
		sync.Mutex
		sessions map[*Session]struct{}
		stopped  bool
	}
}

// NewServer returns the SQL server of cfg.TenantID, bootstrapping the VC's
// catalog on first use: databases defaultdb and postgres with schema public,
// user root and role admin (root a member).
//
// At most one Server may serve a writable VC at a time (tenant.Registry
// keeps one service per VC): the server tracks the VC's catalog version
// from its own schema changes, and a second writer of the same catalog
// would go unnoticed. Stop the old server before starting a new one, for
// example after a failover reverted the VC's span.
func NewServer(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.KV == nil {
		return nil, errors.New("sql: Config.KV is required")
	}
	if cfg.TenantName == "" && cfg.TenantID == tenant.SystemID {
		cfg.TenantName = "system"
	}
	if cfg.MaxImplicitRetries <= 0 {
		cfg.MaxImplicitRetries = defaultMaxImplicitRetries
	}
	s := &Server{
		cfg:      cfg,
		keys:     catalog.Keys{Prefix: tenant.Prefix(cfg.TenantID)},
		cache:    catalog.NewCache(),
		recordID: cfg.TenantID,
	}
	s.mu.sessions = make(map[*Session]struct{})
	s.uniqueRowIDHook = s.uniqueRowID
	if cfg.ReadOnlyAt == nil {
		if err := s.bootstrap(ctx); err != nil {
			return nil, err
		}
		// Nothing else writes the catalog yet: its current version is
		// current from now on.
		txn := cfg.KV.Begin(kv.TxnOptions{ReadOnly: true})
		v, _, err := txn.Get(ctx, s.keys.Version())
		txn.Rollback()
		if err != nil {
			return nil, err
		}
		s.catalogVersion.Store(&knownVersion{version: string(v), validFrom: txn.ReadTimestamp()})
	}
	return s, nil
}

// knownVersion is a catalog version and the timestamp from which it is
// current.
type knownVersion struct {
	version   string
	validFrom kv.Timestamp
}

// newCollection returns the catalog view of a transaction, using the known
// current version when it applies (see commit for how writers stay
// serializable without reading the version key).
func (s *Server) newCollection(txn *kv.Txn) *catalog.Collection {
	c := catalog.NewCollection(s.keys, s.cache, txn)
	// The transaction's timestamp was taken before this check, so a schema
	// change not yet in flight now commits after it (see commit).
	if s.ddlInFlight.Load() == 0 {
		if kv := s.catalogVersion.Load(); kv != nil && kv.validFrom.LessEq(txn.ReadTimestamp()) {
			c.UseVersion(kv.version)
		}
	}
	return c
}

// commit commits txn; when it changed the catalog, the server's known
// version moves to the new one at the commit timestamp.
//
// A transaction that used the known catalog version (instead of reading
// the version key through KV) has no KV-level conflict with a concurrent
// schema change, so it checks here, under commitMu's read lock, that no
// schema change committed since its read timestamp; if one did, it fails
// with a retryable error, as a KV conflict would have. Schema changes
// commit under the write lock, so no schema change commits between the
// check and the commit. The other order, a schema change that committed
// after a write it did not see, is caught by the schema change's own KV
// validation: every schema change that depends on a table's rows (index
// backfills, validations, range deletes) scanned them.
func (s *Server) commit(ctx context.Context, txn *kv.Txn, descs *catalog.Collection) error {
	newVersion, known := "", ""
	if descs != nil {
		newVersion, known = descs.NewVersion(), descs.KnownVersion()
	}
	if newVersion != "" {
		s.ddlInFlight.Add(1)
		defer s.ddlInFlight.Add(-1)
		s.commitMu.Lock()
		defer s.commitMu.Unlock()
		ts, err := txn.Commit(ctx)
		if err != nil {
			return err
		}
		// Stored before ddlInFlight drops, so a reader that sees no
		// schema change in flight sees this version.
		s.catalogVersion.Store(&knownVersion{version: newVersion, validFrom: ts})
		return nil
	}
	if known == "" {
		_, err := txn.Commit(ctx)
		return err
	}
	s.commitMu.RLock()
	defer s.commitMu.RUnlock()
	if cur := s.catalogVersion.Load(); cur == nil || cur.version != known {
		txn.Rollback()
		return &kv.RetryError{Reason: "schema changed by a concurrent transaction", ReadTimestamp: txn.ReadTimestamp()}
	}
	_, err := txn.Commit(ctx)
	return err
}

// bootstrap writes the catalog of a fresh VC, retrying on conflict with a
// concurrent bootstrap.
func (s *Server) bootstrap(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		txn := s.cfg.KV.Begin(kv.TxnOptions{})
		wrote, err := catalog.Bootstrap(ctx, txn, s.keys)
		if err != nil {
			txn.Rollback()
			return errors.Wrap(err, "bootstrapping catalog")
		}
		if !wrote {
			txn.Rollback()
			return nil
		}
		if _, err := txn.Commit(ctx); err != nil {
			if kv.IsRetryable(err) && attempt < 10 {
				continue
			}
			return errors.Wrap(err, "bootstrapping catalog")
		}
		return nil
	}
}

// TenantID returns the VC whose span this server serves (for a read-only
// view, the VC it reads).
func (s *Server) TenantID() tenant.ID { return s.cfg.TenantID }

// TenantName returns the name of the VC this server serves.
func (s *Server) TenantName() string { return s.cfg.TenantName }

// isSystem reports whether the server is the system VC's, which alone may
// manage other VCs.
func (s *Server) isSystem() bool {
	return s.cfg.TenantID == tenant.SystemID && s.cfg.ReadOnlyAt == nil
}

// NewSession opens a session for an authenticated user.
func (s *Server) NewSession(ctx context.Context, args SessionArgs) (*Session, error) {
	s.mu.Lock()
	stopped := s.mu.stopped
	s.mu.Unlock()
	if stopped {
		return nil, pgerror.Newf(pgcode.AdminShutdown, "the SQL service of this virtual cluster is stopping")
	}
	sess, err := newSession(ctx, s, args)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stopped {
		return nil, pgerror.Newf(pgcode.AdminShutdown, "the SQL service of this virtual cluster is stopping")
	}
	s.mu.sessions[sess] = struct{}{}
	return sess, nil
}

func (s *Server) removeSession(sess *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.sessions, sess)
}

var _ tenant.Service = (*Server)(nil)

// Stop refuses new sessions and ends the open ones; it implements
// tenant.Service. Every open session is terminated: its running statement
// is cancelled, its Done channel is closed (the wire server then ends the
// connection with 57P01), and every later call on it fails with 57P01.
// Stop returns when no statement of the VC is running any more, or when
// ctx is done (the sessions stay terminated either way). Sessions are not
// closed here: their owners (the connections) close them, and a
// terminated session holds nothing but its uncommitted, unlocked
// transaction buffer.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.mu.stopped = true
	sessions := make([]*Session, 0, len(s.mu.sessions))
	for sess := range s.mu.sessions {
		sessions = append(sessions, sess)
	}
	s.mu.sessions = make(map[*Session]struct{})
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.terminate()
	}
	// Bounded wait: every running statement was cancelled above and
	// returns promptly; ctx bounds a client that keeps a result open.
	for _, sess := range sessions {
		for sess.busy.Load() {
			select {
			case <-ctx.Done():
				return errors.Wrapf(ctx.Err(), "waiting for the statements of virtual cluster %q", s.cfg.TenantName)
			case <-time.After(time.Millisecond):
			}
		}
	}
	return nil
}

// sessions returns the open sessions.
func (s *Server) sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.mu.sessions))
	for sess := range s.mu.sessions {
		out = append(out, sess)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Close stops the server (see Stop), waiting at most DefaultStopTimeout
// for running statements.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultStopTimeout)
	defer cancel()
	_ = s.Stop(ctx)
}

// now returns the current HLC time.
func (s *Server) now() kv.Timestamp { return s.cfg.KV.Clock().Now() }

// uniqueRowID returns a unique, roughly time-ordered INT8 like CockroachDB's
// unique_rowid(): a timestamp in 10-microsecond units shifted left 15 bits,
// with the low bits free (a node id in CockroachDB, always 1 here). Strictly
// increasing within the server.
func (s *Server) uniqueRowID() int64 {
	const nodeID = 1
	for {
		now := (time.Now().UnixNano() / 10000) << 15
		now |= nodeID
		last := s.lastRowID.Load()
		if now <= last {
			now = last + 1<<15
		}
		if s.lastRowID.CompareAndSwap(last, now) {
			return now
		}
	}
}

// LookupUser reads a user's record as of now, for authentication. found is
// false when the VC has no such user or role.
func (s *Server) LookupUser(ctx context.Context, name string) (info UserInfo, found bool, err error) {
	txn := s.cfg.KV.Begin(kv.TxnOptions{ReadOnly: true, ReadTimestamp: s.readTimestamp()})
	defer txn.Rollback()
	snap, err := s.newCollection(txn).Snapshot(ctx)
	if err != nil {
		return UserInfo{}, false, err
	}
	u := snap.User(name)
	if u == nil {
		return UserInfo{}, false, nil
	}
	p := snap.Principal(name)
	info = UserInfo{
		Name:             u.Name,
		CanLogin:         u.CanLogin,
		PasswordVerifier: u.PasswordVerifier,
		IsAdmin:          p.Admin,
	}
	info.MayConnect = u.CanLogin && s.mayConnect(p)
	return info, true, nil
}

// systemLoginPrivileges are the system privileges that allow logging in to
// the system VC of a virtualized cluster without the admin role (CONTRACT
// §2: the replication user holds only REPLICATIONSOURCE and must be able
// to stream). The contract's VIEWSYSTEMDATA is the Kind the v0.25.2
// parser calls VIEWSYSTEMTABLE (grants.go registers the new name).
var systemLoginPrivileges = []privilege.Kind{
	privilege.REPLICATION, privilege.REPLICATIONSOURCE, privilege.REPLICATIONDEST,
	privilege.MANAGEVIRTUALCLUSTER, privilege.VIEWSYSTEMTABLE,
}

// mayConnect reports whether principal p may log in to this VC: anyone to
// an application VC or to the system VC of a cluster that is not
// virtualized (where the system VC holds the user data); to the system VC
// of a virtualized cluster, admins and holders of one of
// systemLoginPrivileges.
func (s *Server) mayConnect(p *catalog.Principal) bool {
	if !s.isSystem() || s.host == nil || !s.host.Virtualized() || p.Admin {
		return true
	}
	for _, k := range systemLoginPrivileges {
		if p.HasSystemPrivilege(k) {
			return true
		}
	}
	return false
}

// readTimestamp is the timestamp a fresh read sees: now, or the replicated
// time of a read-only VC.
func (s *Server) readTimestamp() kv.Timestamp {
	if f := s.cfg.ReadOnlyAt; f != nil {
		return f()
	}
	return kv.Timestamp{}
}
