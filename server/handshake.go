package server

import (
	"bytes"
	"crypto/tls"
	"sort"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql"
)

// handshake runs a connection's startup phase, up to and including the
// first ReadyForQuery:
//
//  1. Any number of SSLRequest / GSSENCRequest packets (at most one of
//     each). GSSENCRequest is answered 'N'. SSLRequest is answered 'S'
//     in secure mode, and the connection switches to TLS
//     (Config.TLS) before anything else is read; 'N' in insecure mode.
//  2. A CancelRequest ends the connection after cancelling the matching
//     backend's statement; nothing is sent back (PostgreSQL's rule, so a
//     guesser learns nothing). It is accepted with or without TLS, since
//     the secret key authenticates it.
//  3. A protocol 3.x StartupMessage: in secure mode only over TLS.
//     Parameters and options are parsed, newer minor versions and
//     unknown _pq_ options are answered with NegotiateProtocolVersion,
//     the virtual cluster is chosen (Router), the user authenticated
//     (auth.go) and the session opened.
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
			if code == gssEncRequestCode {
				sawGSS = true
				c.wb.buf = append(c.wb.buf, 'N')
				if c.wb.flush() != nil {
					return false
				}
				continue
			}
			sawSSL = true
			if !c.startTLS() {
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
		if !c.srv.cfg.Insecure && c.tls == nil {
			c.sendFatal(errSSLRequired)
			return false
		}
		if err := c.startSession(minor, body[4:]); err != nil {
			c.srv.metrics.failure(c.clusterName())
			c.sendFatal(err)
			return false
		}
		return true
	}
}

// errSSLRequired refuses a plaintext StartupMessage on a secure server.
var errSSLRequired = errors.WithHint(
	pgerror.New(pgcode.InvalidAuthorizationSpecification,
		"node is running secure mode, SSL connection required"),
	"Connect with sslmode=verify-full and the cluster's CA certificate (sslrootcert), "+
		"or start the node with --insecure for testing.")

// startTLS answers an SSLRequest. In insecure mode it answers 'N' and the
// client continues in the clear. In secure mode it answers 'S' and runs
// the TLS handshake; the protocol then continues over TLS.
func (c *conn) startTLS() bool {
	if c.srv.cfg.Insecure || c.srv.cfg.TLS == nil {
		c.wb.buf = append(c.wb.buf, 'N')
		return c.wb.flush() == nil
	}
	// Bytes already buffered after the SSLRequest were sent in the clear
	// before the client saw 'S': an attacker may have injected them
	// (CVE-2021-23214), so they must not be taken as coming from the TLS
	// peer.
	if c.rd.buffered() > 0 {
		c.sendFatal(errors.WithDetail(protocolViolation("received unencrypted data after SSL request"),
			"This could be either a client-software bug or evidence of an attempted man-in-the-middle attack."))
		return false
	}
	c.wb.buf = append(c.wb.buf, 'S')
	if c.wb.flush() != nil {
		return false
	}
	tc := tls.Server(c.raw, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		// The client learns why from its TLS alert (unknown CA, bad
		// certificate); the server logs it because an operator may need
		// to know that clients fail to connect.
		if !isUnexpectedClose(err) {
			c.srv.cfg.Logf("connection from %s: TLS handshake failed: %v", c.raw.RemoteAddr(), err)
		}
		return false
	}
	state := tc.ConnectionState()
	c.tls = &state
	c.nc = tc
	c.rd = newMsgReader(tc, c.srv.cfg.MaxMessageSize)
	c.wb.w = tc
	return true
}

// clusterName is the name of the virtual cluster the connection was
// routed to, or "" before routing.
func (c *conn) clusterName() string { return c.routed }

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
	cl, err := c.srv.cfg.Route(sp.Cluster)
	if err != nil {
		return err
	}
	name := cl.Name()
	c.routed = name
	c.params = sp
	user, err := c.authenticate(c.ctx, cl, &sp)
	if err != nil {
		return err
	}
	c.user = user
	sess, err := cl.NewSession(c.ctx, sql.SessionArgs{
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
	c.cluster.Store(&name)
	c.srv.metrics.opened(name)
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
	if c.user.IsAdmin {
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
	c.enc.conv.BytesEncodeFormat = c.sess.BytesEncodeFormat()
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
