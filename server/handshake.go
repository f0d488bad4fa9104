package server

import (
	"bytes"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql"
)

// handshake runs a connection's startup phase, up to and including the
// first ReadyForQuery:
//
//  1. Any number of SSLRequest / GSSENCRequest packets (at most one of
//     each), answered 'N' (no TLS in insecure mode; the security issue
//     answers 'S' and switches the connection to TLS here).
//  2. A CancelRequest ends the connection after cancelling the matching
//     backend's statement; nothing is sent back (PostgreSQL's rule, so a
//     guesser learns nothing).
//  3. A protocol 3.x StartupMessage: parameters and options are parsed,
//     newer minor versions and unknown _pq_ options are answered with
//     NegotiateProtocolVersion, the virtual cluster is chosen (Router),
//     the user authenticated (auth.go) and the session opened.
//  4. ParameterStatus for the session's reported settings,
//     BackendKeyData, ReadyForQuery.
//
// It returns false when the connection must be closed; errors have then
// been sent as FATAL where the protocol allows.
func (c *conn) handshake() bool {
	sawSSL, sawGSS := false, false
	for {
		code, body, err := c.rd.readStartup()
		if err != nil {
			if !isUnexpectedClose(err) {
				c.sendFatal(err)
			}
			return false
		}
		switch code {
		case sslRequestCode, gssEncRequestCode:
			if len(body) != 4 || (code == sslRequestCode && sawSSL) || (code == gssEncRequestCode && sawGSS) {
				c.sendFatal(protocolViolation("unexpected encryption request"))
				return false
			}
			if code == sslRequestCode {
				sawSSL = true
			} else {
				sawGSS = true
			}
			c.wb.buf = append(c.wb.buf, 'N')
			if c.wb.flush() != nil {
				return false
			}
			continue
		case cancelRequestCode:
			c.srv.cancelRequest(body)
			return false
		}
		major, minor := code>>16, code&0xffff
		if major != 3 {
			c.sendFatal(pgerror.Newf(pgcode.FeatureNotSupported,
				"unsupported frontend protocol %d.%d: server supports 3.0 to 3.0", major, minor))
			return false
		}
		if err := c.startSession(minor, body[4:]); err != nil {
			c.sendFatal(err)
			return false
		}
		return true
	}
}

// startSession handles a StartupMessage's body (after the version).
func (c *conn) startSession(minor uint32, body []byte) error {
	params, err := parseStartupPairs(body)
	if err != nil {
		return err
	}
	sp, err := parseStartupParams(params)
	if err != nil {
		return err
	}
	if minor > 0 || len(sp.UnknownProtocolOptions) > 0 {
		sort.Strings(sp.UnknownProtocolOptions)
		c.wb.send(&pgproto3.NegotiateProtocolVersion{
			NewestMinorProtocol: 0,
			UnrecognizedOptions: sp.UnknownProtocolOptions,
		})
	}
	open, err := c.srv.cfg.Route(sp.Cluster)
	if err != nil {
		return err
	}
	if err := c.authenticate(c.ctx, &sp); err != nil {
		return err
	}
	sess, err := open(c.ctx, sql.SessionArgs{
		User:            sp.User,
		Database:        sp.Database,
		ApplicationName: sp.ApplicationName,
		SessionDefaults: sp.SessionDefaults,
		RemoteAddr:      c.nc.RemoteAddr().String(),
	})
	if err != nil {
		return err
	}
	c.sess = sess
	c.params = sp
	cluster := sp.Cluster
	if cluster == "" {
		cluster = c.srv.cfg.DefaultCluster
	}
	c.cluster.Store(&cluster)
	c.sendStatusParams()
	c.sendNotices()
	c.wb.send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret[:]})
	c.wb.send(&pgproto3.ReadyForQuery{TxStatus: sess.TxnStatus()})
	c.idle = true
	return c.wb.flush()
}

// requiredStatusParams are the ParameterStatus values every client gets
// after startup (PostgreSQL's GUC_REPORT set that drivers read), with the
// value used when the session does not report one.
func (c *conn) requiredStatusParams() []sql.StatusParam {
	superuser := "off"
	if c.params.User == "root" {
		superuser = "on"
	}
	return []sql.StatusParam{
		{Name: "server_version", Value: "13.0.0"},
		{Name: "server_encoding", Value: "UTF8"},
		{Name: "client_encoding", Value: "UTF8"},
		{Name: "DateStyle", Value: "ISO, MDY"},
		{Name: "IntervalStyle", Value: "postgres"},
		{Name: "TimeZone", Value: "UTC"},
		{Name: "integer_datetimes", Value: "on"},
		{Name: "standard_conforming_strings", Value: "on"},
		{Name: "application_name", Value: c.params.ApplicationName},
		{Name: "is_superuser", Value: superuser},
		{Name: "session_authorization", Value: c.params.User},
	}
}

// sendStatusParams sends the session's ParameterStatus values, completed
// with the required ones it lacks, and applies the formatting settings.
func (c *conn) sendStatusParams() {
	params := c.sess.StatusParams()
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		seen[p.Name] = true
	}
	for _, p := range c.requiredStatusParams() {
		if !seen[p.Name] {
			params = append(params, p)
		}
	}
	for _, p := range params {
		c.applyStatus(p)
		c.wb.send(&pgproto3.ParameterStatus{Name: p.Name, Value: p.Value})
	}
	// Changes made while opening the session (startup SET options) are
	// already part of StatusParams.
	_ = c.sess.TakeStatusChanges()
	c.enc.conv.ExtraFloatDigits = c.sess.ExtraFloatDigits()
}

// parseStartupPairs splits a StartupMessage body into its NUL-terminated
// name/value pairs, which end with an empty name.
func parseStartupPairs(b []byte) (map[string]string, error) {
	params := map[string]string{}
	for {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return nil, protocolViolation("invalid startup packet layout: expected terminator as last byte")
		}
		if i == 0 {
			if len(b) != 1 {
				return nil, protocolViolation("invalid startup packet layout: data after the terminator")
			}
			return params, nil
		}
		name := string(b[:i])
		b = b[i+1:]
		j := bytes.IndexByte(b, 0)
		if j < 0 {
			return nil, protocolViolation("invalid startup packet layout: missing value for parameter %q", name)
		}
		params[name] = string(b[:j])
		b = b[j+1:]
	}
}
