package sql

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/privilege"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/sem/tree"
	"github.com/cockroachdb/errors"
	"github.com/vcdb/vcdb/kv"
	"github.com/vcdb/vcdb/replication"
	"github.com/vcdb/vcdb/tenant"
)

// External connections (CREATE/DROP/SHOW EXTERNAL CONNECTION[S]) name a
// replication source URI, so that CREATE VIRTUAL CLUSTER ... FROM
// REPLICATION OF x ON 'external://name' need not repeat its password and
// certificates. They are physical-cluster objects, kept in the system VC's
// metadata keyspace (tenant.MetaExternalConnections), one JSON record per
// name:
//
//	MetaPrefix(MetaExternalConnections) + name   externalConnection
//
// The stored URI keeps its secrets (the replication client needs them);
// SHOW prints it redacted, and the statement's text is redacted where it
// is shown (redact.go).

type externalConnection struct {
	Name  string `json:"name"`
	URI   string `json:"uri"`
	Owner string `json:"owner"`
}

// externalConnectionType is the connection_type SHOW prints for a
// PostgreSQL URI (CockroachDB's class for foreign data sources).
const externalConnectionType = "FOREIGNDATA"

func externalConnectionKey(name string) []byte {
	return append(tenant.MetaPrefix(tenant.MetaExternalConnections), name...)
}

func getExternalConnection(ctx context.Context, txn *kv.Txn, name string) (*externalConnection, error) {
	v, found, err := txn.Get(ctx, externalConnectionKey(name))
	if err != nil || !found {
		return nil, err
	}
	var ec externalConnection
	if err := json.Unmarshal(v, &ec); err != nil {
		return nil, errors.Wrapf(err, "decoding external connection %q", name)
	}
	return &ec, nil
}

func listExternalConnections(ctx context.Context, txn *kv.Txn) ([]*externalConnection, error) {
	prefix := tenant.MetaPrefix(tenant.MetaExternalConnections)
	span := kv.Span{Key: prefix, EndKey: kv.PrefixEnd(prefix)}
	var out []*externalConnection
	for {
		res, err := txn.Scan(ctx, span, kv.ScanOptions{MaxRows: 1000})
		if err != nil {
			return nil, err
		}
		for _, kvp := range res.KVs {
			var ec externalConnection
			if err := json.Unmarshal(kvp.Value, &ec); err != nil {
				return nil, errors.Wrap(err, "decoding an external connection")
			}
			out = append(out, &ec)
		}
		if res.ResumeSpan == nil {
			return out, nil
		}
		span = *res.ResumeSpan
	}
}

// ExternalConnectionPrefix is the URI prefix that refers to an external
// connection by name.
const ExternalConnectionPrefix = "external://"

// ResolveExternalConnection returns the URI (with its secrets) of the
// external connection an 'external://name' URI names, for user, who must
// own it or be an admin of the system VC. Other URIs are returned as
// given.
func (h *Host) ResolveExternalConnection(ctx context.Context, user, uri string) (string, error) {
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
	snap, err := h.system.newCollection(txn).Snapshot(ctx)
	if err != nil {
		return "", err
	}
	if pr := snap.Principal(user); !pr.Admin && !pr.IsMemberOf(ec.Owner) {
		return "", pgerror.Newf(pgcode.InsufficientPrivilege,
			"user %s does not have USAGE privilege on external connection %s", user, name)
	}
	return ec.URI, nil
}

// checkExternalConnectionURI accepts the URIs vcdb can use: PostgreSQL
// connection URIs (replication sources). Errors never quote the URI.
func checkExternalConnectionURI(uri string) error {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" {
		return pgerror.Newf(pgcode.InvalidParameterValue, "invalid external connection URI")
	}
	switch u.Scheme {
	case "postgresql", "postgres":
		return nil
	}
	return pgerror.Newf(pgcode.FeatureNotSupported,
		"unsupported external connection URI scheme %q: vcdb stores postgresql:// replication sources", u.Scheme)
}

// requireSystemVCForExternal refuses external connections outside the
// system VC (they belong to the physical cluster).
func (s *Session) requireSystemVCForExternal(op string) error {
	if !s.srv.isSystem() {
		return s.withSystemInterfaceTip(
			pgerror.Newf(pgcode.InsufficientPrivilege, "only the system tenant can %s external connections", op))
	}
	return nil
}

// labelText evaluates an external connection's name.
func (d *ddl) labelText(ctx context.Context, e tree.Expr) (string, error) {
	if e == nil {
		return "", pgerror.Newf(pgcode.Syntax, "an external connection name is required")
	}
	name, err := d.s.varValue(ctx, e, d.rp.ec.Placeholders)
	if err != nil {
		return "", err
	}
	if name == "" {
		return "", pgerror.Newf(pgcode.InvalidParameterValue, "an external connection name cannot be empty")
	}
	return name, nil
}

// execCreateExternalConnection runs CREATE EXTERNAL CONNECTION.
func (d *ddl) execCreateExternalConnection(ctx context.Context, t *tree.CreateExternalConnection) error {
	if err := d.s.requireSystemVCForExternal("create"); err != nil {
		return err
	}
	pr := d.s.principal(d.snap)
	if err := requireSystemPrivilege(pr, privilege.EXTERNALCONNECTION); err != nil {
		return err
	}
	name, err := d.labelText(ctx, t.ConnectionLabelSpec.Label)
	if err != nil {
		return err
	}
	uri, err := d.s.varValue(ctx, t.As, d.rp.ec.Placeholders)
	if err != nil {
		return err
	}
	if err := checkExternalConnectionURI(uri); err != nil {
		return err
	}
	existing, err := getExternalConnection(ctx, d.rp.txn, name)
	if err != nil {
		return err
	}
	if existing != nil {
		if t.ConnectionLabelSpec.IfNotExists {
			return nil
		}
		return pgerror.Newf(pgcode.DuplicateObject, "external connection with name %s already exists", name)
	}
	b, err := json.Marshal(&externalConnection{Name: name, URI: uri, Owner: pr.Name})
	if err != nil {
		return err
	}
	return d.rp.txn.Put(externalConnectionKey(name), b)
}

// execDropExternalConnection runs DROP EXTERNAL CONNECTION.
func (d *ddl) execDropExternalConnection(ctx context.Context, t *tree.DropExternalConnection) error {
	if err := d.s.requireSystemVCForExternal("drop"); err != nil {
		return err
	}
	name, err := d.labelText(ctx, t.ConnectionLabel)
	if err != nil {
		return err
	}
	ec, err := getExternalConnection(ctx, d.rp.txn, name)
	if err != nil {
		return err
	}
	if ec == nil {
		return pgerror.Newf(pgcode.UndefinedObject, "external connection %q does not exist", name)
	}
	if pr := d.s.principal(d.snap); !pr.Admin && !pr.IsMemberOf(ec.Owner) {
		return pgerror.Newf(pgcode.InsufficientPrivilege,
			"user %s does not have DROP privilege on external connection %s", pr.Name, name)
	}
	return d.rp.txn.Delete(externalConnectionKey(name))
}

var showExternalConnectionsColumns = []resultColumn{strCol("connection_name"), strCol("connection_uri"), strCol("connection_type")}

// execShowExternalConnections computes SHOW EXTERNAL CONNECTION[S]: admins
// see every connection, other users their own; URIs are redacted.
func (d *ddl) execShowExternalConnections(ctx context.Context, t *tree.ShowExternalConnections) ([]tree.Datums, error) {
	if err := d.s.requireSystemVCForExternal("show"); err != nil {
		return nil, err
	}
	pr := d.s.principal(d.snap)
	var conns []*externalConnection
	if t.ConnectionLabel != nil {
		name, err := d.labelText(ctx, t.ConnectionLabel)
		if err != nil {
			return nil, err
		}
		ec, err := getExternalConnection(ctx, d.rp.txn, name)
		if err != nil {
			return nil, err
		}
		if ec == nil || (!pr.Admin && !pr.IsMemberOf(ec.Owner)) {
			return nil, pgerror.Newf(pgcode.UndefinedObject, "external connection %q does not exist", name)
		}
		conns = []*externalConnection{ec}
	} else {
		all, err := listExternalConnections(ctx, d.rp.txn)
		if err != nil {
			return nil, err
		}
		for _, ec := range all {
			if pr.Admin || pr.IsMemberOf(ec.Owner) {
				conns = append(conns, ec)
			}
		}
	}
	var rows []tree.Datums
	for _, ec := range conns {
		rows = append(rows, tree.Datums{dstr(ec.Name), dstr(replication.RedactURI(ec.URI)), dstr(externalConnectionType)})
	}
	return rows, nil
}
