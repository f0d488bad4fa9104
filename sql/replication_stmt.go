package sql

import (
	"context"
	"strings"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/parser"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/types"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/sql/catalog"
	"github.com/vcdb/vcdb/sql/sem"
	"github.com/vcdb/vcdb/tenant"
)

// The replication statements (CONTRACT §3, CRDB-PCR-FACTS §1.2, §1.3,
// §3): CREATE VIRTUAL CLUSTER ... FROM REPLICATION and the replication
// forms of ALTER VIRTUAL CLUSTER. They run in the system VC, outside
// explicit transactions, with MANAGEVIRTUALCLUSTER (execVCStatement checks
// those) and REPLICATIONDEST for the standby's forms or REPLICATIONSOURCE
// for SET REPLICATION SOURCE EXPIRATION WINDOW (admins hold every
// privilege). The work is package replication's: the Host's consumer
// (standby side) and producer (source side).

// replicationTag is the tag of a statement CockroachDB declares as
// returning rows, none of which it returns (CRDB-PCR-FACTS §1.2: a v25.2
// shell printed "CREATE VIRTUAL CLUSTER FROM REPLICATION 0").
func replicationTag(tag string) string { return tag + " 0" }

// requireReplicationPrivilege checks a system privilege of the session's
// user against the current catalog.
func (s *Session) requireReplicationPrivilege(ctx context.Context, kind privilege.Kind) error {
	return s.withCatalog(ctx, func(snap *catalog.Snapshot) error {
		return requireSystemPrivilege(s.principal(snap), kind)
	})
}

// replOptions are a statement's evaluated WITH options.
type replOptions struct {
	retention       time.Duration
	retentionSet    bool
	reader          bool
	expiration      time.Duration
	expirationSet   bool
	anyConsumerSide bool
}

// evalReplicationOptions evaluates o. READ VIRTUAL CLUSTER is also looked
// for in the statement's text: the v0.25.2 parser drops it when it is
// combined with RETENTION (CRDB-PCR-FACTS §1.2), and vcdb honours both
// (CONTRACT §3, "vcdb differs").
func (s *Session) evalReplicationOptions(ctx context.Context, sqlText string, o *tree.TenantReplicationOptions, args tree.Datums) (replOptions, error) {
	var out replOptions
	if o.Retention != nil {
		d, err := s.evalDuration(ctx, o.Retention, args, "retention")
		if err != nil {
			return out, err
		}
		out.retention, out.retentionSet = d, true
	}
	if o.ExpirationWindow != nil {
		d, err := s.evalDuration(ctx, o.ExpirationWindow, args, "expiration window")
		if err != nil {
			return out, err
		}
		out.expiration, out.expirationSet = d, true
	}
	out.reader = (o.EnableReaderTenant != nil && bool(*o.EnableReaderTenant)) || mentionsReadVirtualCluster(sqlText)
	out.anyConsumerSide = out.retentionSet || out.reader
	return out, nil
}

// mentionsReadVirtualCluster reports whether the statement's tokens hold
// READ VIRTUAL CLUSTER (strings and identifiers are single tokens, so a
// name or a URI cannot fake it).
func mentionsReadVirtualCluster(sqlText string) bool {
	toks, ok := parser.Tokens(sqlText)
	if !ok {
		return false
	}
	for i := 0; i+2 < len(toks); i++ {
		if strings.EqualFold(toks[i].Str, "read") && strings.EqualFold(toks[i+1].Str, "virtual") &&
			strings.EqualFold(toks[i+2].Str, "cluster") {
			return true
		}
	}
	return false
}

// evalDuration evaluates an INTERVAL option (RETENTION, EXPIRATION
// WINDOW); a month counts 30 days, as CockroachDB's interval arithmetic.
func (s *Session) evalDuration(ctx context.Context, e tree.Expr, args tree.Datums, what string) (time.Duration, error) {
	d, err := s.evalTyped(ctx, e, types.Interval, args)
	if err != nil {
		return 0, err
	}
	if str, ok := tree.AsDString(d); ok {
		iv, perr := tree.ParseDInterval(0, string(str))
		if perr != nil {
			return 0, pgerror.Newf(pgcode.InvalidParameterValue, "invalid %s: %v", what, perr)
		}
		d = iv
	}
	iv, ok := d.(*tree.DInterval)
	if !ok {
		return 0, pgerror.Newf(pgcode.InvalidParameterValue, "%s must be an interval", what)
	}
	dur := time.Duration(iv.Nanos()) + time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Months)*30*24*time.Hour
	return dur, nil
}

// evalSourceURI evaluates the ON expression and checks that the user may
// use it: an 'external://name' must exist and be usable by the user (its
// secrets are looked up again at each connection, so the stored reference
// stays 'external://name').
func (s *Session) evalSourceURI(ctx context.Context, h *Host, e tree.Expr, args tree.Datums) (string, error) {
	uri, err := s.varValue(ctx, e, args)
	if err != nil {
		return "", err
	}
	if uri == "" {
		return "", pgerror.Newf(pgcode.InvalidParameterValue, "the source URI must not be empty")
	}
	if _, err := h.ResolveExternalConnection(ctx, s.data.user, uri); err != nil {
		return "", err
	}
	return uri, nil
}

// errExpirationOnStart is CockroachDB's refusal of EXPIRATION WINDOW on a
// statement that starts a stream (the grammar refuses it already).
func errExpirationOnStart() error {
	return pgerror.Newf(pgcode.InvalidParameterValue,
		"cannot specify EXPIRATION WINDOW option while starting a physical replication stream")
}

// execCreateFromReplication runs CREATE VIRTUAL CLUSTER d FROM REPLICATION
// OF s ON uri [WITH ...]: the source is validated synchronously (bad
// credentials, an unknown source VC or a missing privilege there fail the
// statement and create nothing), then the VC (data state add), its
// read-only VC if asked, and the consumer job are created.
func (s *Session) execCreateFromReplication(ctx context.Context, h *Host, prep *Prepared, t *tree.CreateTenantFromReplication, args tree.Datums) (Result, error) {
	if err := s.requireReplicationPrivilege(ctx, privilege.REPLICATIONDEST); err != nil {
		return nil, err
	}
	spec, _, err := s.evalVCSpec(ctx, t.TenantSpec, args)
	if err != nil {
		return nil, err
	}
	if spec.id != 0 {
		if spec.id == tenant.SystemID {
			return nil, pgerror.Newf(pgcode.InvalidParameterValue,
				"the destination tenant %q (%d) cannot be the system tenant", tenant.SystemName, tenant.SystemID)
		}
		return nil, pgerror.Newf(pgcode.FeatureNotSupported,
			"CREATE VIRTUAL CLUSTER [id] FROM REPLICATION is not supported: name the new virtual cluster")
	}
	srcName, err := s.evalVCName(ctx, t.ReplicationSourceTenantName, args)
	if err != nil {
		return nil, err
	}
	opts, err := s.evalReplicationOptions(ctx, prep.SQL, &t.Options, args)
	if err != nil {
		return nil, err
	}
	if opts.expirationSet {
		return nil, errExpirationOnStart()
	}
	tag := replicationTag(prep.AST.StatementTag())
	if t.IfNotExists {
		if _, err := h.store.GetByName(ctx, nil, spec.name); err == nil {
			return &bufferedResult{tag: tag}, nil
		} else if pgerror.GetPGCode(err) != pgcode.UndefinedObject {
			return nil, err
		}
	}
	uri, err := s.evalSourceURI(ctx, h, t.ReplicationSourceConnUri, args)
	if err != nil {
		return nil, err
	}
	if _, err := h.consumer.Create(ctx, replication.CreateRequest{
		TenantName: spec.name, SourceTenantName: srcName, SourceURI: uri,
		Retention: opts.retention, ReadOnly: opts.reader,
		Description: redactedStatement(prep.AST), User: s.data.user,
	}); err != nil {
		return nil, err
	}
	h.cfg.Logf("created virtual cluster %q replicating from %q at %s", spec.name, srcName, replication.RedactURI(uri))
	if err := h.refreshVirtualized(ctx, nil); err != nil {
		return nil, err
	}
	return &bufferedResult{tag: tag}, nil
}

// evalFailoverTime evaluates COMPLETE REPLICATION's TO SYSTEM TIME
// expression like AS OF SYSTEM TIME (a timestamp, a decimal HLC, or an
// interval from the statement's time) except that the future is allowed:
// '+5m' waits in "replication pending failover" (CRDB-PCR-FACTS §3.1).
func (s *Session) evalFailoverTime(ctx context.Context, e tree.Expr, args tree.Datums) (kv.Timestamp, error) {
	now := s.srv.now()
	ec := &sem.Context{
		TxnTimestamp: now.GoTime(), StmtTimestamp: now.GoTime(), Location: s.data.location,
		Placeholders: args, DateStyle: s.data.dateStyle, IntervalStyle: s.data.intervalStyle,
	}
	wall, logical, err := sem.EvalSystemTime(ctx, ec, e, now.WallTime, true /* allowFuture */)
	if err != nil {
		return kv.Timestamp{}, err
	}
	return kv.Timestamp{WallTime: wall, Logical: logical}, nil
}

// errBadFailoverTime re-codes an error of evaluating COMPLETE
// REPLICATION's time: whatever the evaluator says (it speaks for AS OF
// SYSTEM TIME), a time that is no time is a bad value, 22023 (CONTRACT §3,
// "vcdb differs"), worded as CockroachDB's asof package words it.
func errBadFailoverTime(err error) error {
	if pgerror.GetPGCode(err) == pgcode.QueryCanceled {
		return err
	}
	msg := strings.TrimPrefix(pgerror.Flatten(err).Message, "AS OF SYSTEM TIME: ")
	return pgerror.New(pgcode.InvalidParameterValue, msg)
}

// failoverTimeColumns are COMPLETE REPLICATION's result columns.
var failoverTimeColumns = []resultColumn{decimalCol("failover_time")}

// execAlterReplication runs the replication forms of ALTER VIRTUAL
// CLUSTER. The parser's AST says which by what it sets: a cutover (COMPLETE
// REPLICATION), a source (START REPLICATION, failback), options (SET
// REPLICATION [SOURCE] ...), else PAUSE or RESUME.
func (s *Session) execAlterReplication(ctx context.Context, h *Host, prep *Prepared, t *tree.AlterTenantReplication, args tree.Datums) (Result, error) {
	spec, _, err := s.evalVCSpec(ctx, t.TenantSpec, args)
	if err != nil {
		return nil, err
	}
	rec, err := h.resolve(ctx, nil, spec)
	if err != nil {
		return nil, err
	}
	tag := replicationTag(prep.AST.StatementTag())
	opts, err := s.evalReplicationOptions(ctx, prep.SQL, &t.Options, args)
	if err != nil {
		return nil, err
	}
	if t.Producer {
		// SET REPLICATION SOURCE EXPIRATION WINDOW = d, run on the source.
		if err := s.requireReplicationPrivilege(ctx, privilege.REPLICATIONSOURCE); err != nil {
			return nil, err
		}
		if !opts.expirationSet {
			return nil, pgerror.Newf(pgcode.Syntax, "SET REPLICATION SOURCE needs EXPIRATION WINDOW")
		}
		if err := h.producer.SetExpirationWindow(ctx, rec.Name, opts.expiration); err != nil {
			return nil, err
		}
		return &bufferedResult{tag: tag}, nil
	}
	if err := s.requireReplicationPrivilege(ctx, privilege.REPLICATIONDEST); err != nil {
		return nil, err
	}
	if t.ReplicationSourceTenantName != nil {
		return s.execStartReplication(ctx, h, rec, t, opts, args, tag)
	}
	if rec.ConsumerJobID == 0 {
		// The consumer-side forms on a VC without a consumer job (a
		// primary's, by mistake) fail as in CockroachDB, with vcdb's real
		// SQLSTATE for a wrong state.
		return nil, pgerror.Newf(pgcode.ObjectNotInPrerequisiteState,
			"tenant %q (%d) does not have an active replication consumer job", vcName(rec), rec.ID)
	}
	switch {
	case t.Cutover != nil:
		target := replication.FailoverTarget{Latest: t.Cutover.Latest}
		if !target.Latest {
			if target.Time, err = s.evalFailoverTime(ctx, t.Cutover.Timestamp, args); err != nil {
				return nil, errBadFailoverTime(err)
			}
		}
		ts, err := h.consumer.Complete(ctx, rec.Name, target)
		if err != nil {
			return nil, err
		}
		h.cfg.Logf("failover of virtual cluster %q requested at %s", rec.Name, ts)
		return &bufferedResult{
			cols: columnsOf(failoverTimeColumns),
			rows: []tree.Datums{{decimalOrNull(ts.String())}},
			tag:  "ALTER VIRTUAL CLUSTER REPLICATION 1",
		}, nil
	case opts.expirationSet:
		return nil, pgerror.Newf(pgcode.InvalidParameterValue,
			"EXPIRATION WINDOW is set on the source: ALTER VIRTUAL CLUSTER ... SET REPLICATION SOURCE EXPIRATION WINDOW")
	case opts.anyConsumerSide:
		if opts.retentionSet {
			if err := h.consumer.SetRetention(ctx, rec.Name, opts.retention); err != nil {
				return nil, err
			}
		}
		if opts.reader {
			if err := h.consumer.AddReader(ctx, rec.Name); err != nil {
				return nil, err
			}
		}
	case t.Command == tree.PauseJob:
		if err := h.consumer.Pause(ctx, rec.Name); err != nil {
			return nil, err
		}
	case t.Command == tree.ResumeJob:
		if err := h.consumer.Resume(ctx, rec.Name); err != nil {
			return nil, err
		}
	default:
		return nil, errors.AssertionFailedf("unexpected ALTER VIRTUAL CLUSTER REPLICATION form")
	}
	return &bufferedResult{tag: tag}, nil
}

// execStartReplication runs ALTER VIRTUAL CLUSTER x START REPLICATION OF s
// ON uri [WITH ...], the failback (CRDB-PCR-FACTS §3.2; the consumer
// checks the preconditions in CockroachDB's order).
func (s *Session) execStartReplication(ctx context.Context, h *Host, rec *tenant.Record, t *tree.AlterTenantReplication, opts replOptions, args tree.Datums, tag string) (Result, error) {
	if opts.expirationSet {
		return nil, errExpirationOnStart()
	}
	srcName, err := s.evalVCName(ctx, t.ReplicationSourceTenantName, args)
	if err != nil {
		return nil, err
	}
	uri, err := s.evalSourceURI(ctx, h, t.ReplicationSourceConnUri, args)
	if err != nil {
		return nil, err
	}
	if _, err := h.consumer.StartFailback(ctx, replication.FailbackRequest{
		TenantName: rec.Name, SourceTenantName: srcName, SourceURI: uri,
		Retention: opts.retention, ReadOnly: opts.reader,
		Description: redactedStatement(t), User: s.data.user,
	}); err != nil {
		return nil, err
	}
	h.cfg.Logf("virtual cluster %q fails back from %q at %s", rec.Name, srcName, replication.RedactURI(uri))
	return &bufferedResult{tag: tag}, nil
}
