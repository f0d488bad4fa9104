package server

import (
	"context"
	"crypto/rand"
	"math/big"
	"time"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/certs"
	"github.com/vcdb/vcdb/sql/password"
)

// PasswordMethod is how password users prove their password in secure
// mode.
type PasswordMethod int

const (
	// PasswordSCRAM is SCRAM-SHA-256 (RFC 5802, RFC 7677), the default:
	// the password never reaches the server, the client learns that the
	// server holds the verifier, and a captured exchange cannot be
	// replayed.
	PasswordSCRAM PasswordMethod = iota
	// PasswordCleartext asks for the password itself
	// (AuthenticationCleartextPassword) and checks it against the stored
	// verifier. It exists for old clients without SCRAM; since secure
	// mode only accepts startups over TLS, the password is never sent
	// unencrypted, but the server sees it, which SCRAM avoids.
	PasswordCleartext
)

// ParsePasswordMethod reads a method name as the --password-method flag
// spells it: "scram-sha-256" or "cleartext" (also "password", the name
// of the method in PostgreSQL's pg_hba.conf).
func ParsePasswordMethod(s string) (PasswordMethod, error) {
	switch s {
	case "scram-sha-256", "":
		return PasswordSCRAM, nil
	case "cleartext", "password":
		return PasswordCleartext, nil
	}
	return 0, errors.Newf("unknown password method %q (scram-sha-256 or cleartext)", s)
}

func (m PasswordMethod) String() string {
	if m == PasswordCleartext {
		return "cleartext"
	}
	return "scram-sha-256"
}

// DefaultAuthFailureDelay is the least pause before a failed login is
// answered; the pause is drawn uniformly between it and twice it. A
// tenth of a second costs a human nothing and limits one connection to a
// few guesses per second; the random part hides any timing difference
// between the reasons for a failure. The pause holds only the failing
// connection's goroutine, so other logins and the accept loop go on.
const DefaultAuthFailureDelay = 100 * time.Millisecond

// RootUser authenticates only with a client certificate in secure mode.
const RootUser = "root"

// errPasswordFailed is the one answer to a wrong password, an unknown
// user and a user without a password: the client cannot tell them apart
// (no user enumeration). The reason is logged for the operator.
func errPasswordFailed(user string) error {
	return pgerror.Newf(pgcode.InvalidPassword, "password authentication failed for user %s", user)
}

// authenticate is the authentication step of startup, between routing and
// opening the session. It runs the exchange of the method that applies on
// the connection and, when the client proved who it is and may log in to
// the virtual cluster cl, sends AuthenticationOk and returns what it
// learnt about the user. An error is sent to the client as FATAL and the
// connection is closed.
//
// Methods, in order (contract §2):
//
//   - Insecure mode trusts the user name, as `cockroach start --insecure`
//     does; the user must still exist in cl and may log in there.
//   - A client certificate verified against ca.crt whose common name is
//     the user (certs.ClientCertUser) authenticates that user.
//   - root authenticates only that way: with anything else it is refused
//     at once (no password prompt).
//   - Every other user proves a password: SCRAM-SHA-256 by default, or
//     the cleartext exchange (Config.PasswordMethod), always over TLS. An
//     unknown user and a user without a password go through the same
//     exchange against a mock verifier (stable per name), so their
//     answers look like a wrong password's, as PostgreSQL does.
//
// After the credentials, the user must have LOGIN and be allowed in this
// virtual cluster (UserAuth.MayConnect); those refusals (28000) come only
// after a successful proof, so they reveal nothing to a guesser. Every
// failure is answered after a pause (Config.AuthFailureDelay).
func (c *conn) authenticate(ctx context.Context, cl Cluster, sp *startupParams) (UserAuth, error) {
	user := sp.User
	if c.srv.cfg.Insecure {
		info, found, err := cl.LookupUser(ctx, user)
		if err != nil {
			return UserAuth{}, err
		}
		if !found {
			return UserAuth{}, c.authFailed(ctx, cl, user, "unknown user (insecure mode)", errPasswordFailed(user))
		}
		return c.authSucceeded(ctx, cl, user, info)
	}

	if certUser, ok := certs.ClientCertUser(*c.tls); ok && certUser == user {
		info, found, err := cl.LookupUser(ctx, user)
		if err != nil {
			return UserAuth{}, err
		}
		if !found {
			// The certificate proved the name, so saying that the user
			// is unknown here reveals nothing to a guesser.
			return UserAuth{}, c.authFailed(ctx, cl, user, "unknown user with a valid client certificate",
				errors.WithDetailf(pgerror.Newf(pgcode.InvalidAuthorizationSpecification,
					"certificate authentication failed for user %s", user),
					"Virtual cluster %s has no user %s.", cl.Name(), user))
		}
		return c.authSucceeded(ctx, cl, user, info)
	}

	if user == RootUser {
		return UserAuth{}, c.authFailed(ctx, cl, user, "root without its client certificate",
			errors.WithHint(pgerror.Newf(pgcode.InvalidAuthorizationSpecification,
				"user root must authenticate with a client certificate"),
				"Connect with sslcert and sslkey set to client.root.crt and client.root.key "+
					"(vcdb cert create-client root), or log in as another user with a password."))
	}

	info, found, err := cl.LookupUser(ctx, user)
	if err != nil {
		return UserAuth{}, err
	}
	var verifier *password.SCRAMVerifier
	reason := "wrong password"
	switch {
	case !found:
		reason = "unknown user"
	case info.PasswordVerifier == "":
		reason = "user has no password"
	default:
		verifier, err = password.ParseSCRAMVerifier(info.PasswordVerifier)
		if err != nil {
			// A corrupt stored verifier must not let anyone in, nor tell
			// the client anything but the usual failure.
			verifier = nil
			reason = "stored password verifier is malformed"
		}
	}
	var ok bool
	if c.srv.cfg.PasswordMethod == PasswordCleartext {
		ok, err = c.cleartextExchange(user, verifier)
	} else {
		ok, err = c.scramExchange(user, verifier)
	}
	if err != nil {
		return UserAuth{}, err
	}
	if !ok {
		return UserAuth{}, c.authFailed(ctx, cl, user, reason, errPasswordFailed(user))
	}
	return c.authSucceeded(ctx, cl, user, info)
}

// authSucceeded checks that a user whose identity is established may log
// in to cl, and sends AuthenticationOk.
func (c *conn) authSucceeded(ctx context.Context, cl Cluster, user string, info UserAuth) (UserAuth, error) {
	if !info.CanLogin {
		return UserAuth{}, c.authFailed(ctx, cl, user, "no LOGIN option",
			pgerror.Newf(pgcode.InvalidAuthorizationSpecification, "role %s is not permitted to log in", user))
	}
	if !info.MayConnect {
		err := pgerror.Newf(pgcode.InvalidAuthorizationSpecification,
			"user %s may not log in to virtual cluster %s", user, cl.Name())
		if cl.Name() == SystemClusterName {
			err = errors.WithHint(err,
				"Logging in to the system virtual cluster requires the admin role or one of the system "+
					"privileges REPLICATION, REPLICATIONSOURCE, REPLICATIONDEST, MANAGEVIRTUALCLUSTER, "+
					"VIEWSYSTEMDATA (GRANT SYSTEM ...). Application data lives in application virtual "+
					"clusters: connect with options=-ccluster=NAME.")
		}
		return UserAuth{}, c.authFailed(ctx, cl, user, "not allowed in this virtual cluster", err)
	}
	c.wb.send(&pgproto3.AuthenticationOk{})
	return info, nil
}

// authFailed logs a failed login with its reason (never a password),
// waits the failure delay, and returns err for the client.
func (c *conn) authFailed(ctx context.Context, cl Cluster, user, reason string, err error) error {
	c.srv.cfg.Logf("authentication failed for user %s in virtual cluster %s from %s: %s",
		user, cl.Name(), c.raw.RemoteAddr(), reason)
	c.srv.metrics.authFailure(cl.Name())
	if d := c.srv.authFailureDelay(); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

// authFailureDelay draws the pause before answering a failed login.
func (s *Server) authFailureDelay() time.Duration {
	d := s.cfg.AuthFailureDelay
	if d <= 0 {
		return 0
	}
	jitter, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return d
	}
	return d + time.Duration(jitter.Int64())
}

// readAuthMessage reads the client's next authentication message, which
// must be a 'p' message (PasswordMessage, SASLInitialResponse and
// SASLResponse share the type byte; the exchange's state says which).
func (c *conn) readAuthMessage(what string) ([]byte, error) {
	typ, body, err := c.rd.readMessage()
	if err != nil {
		return nil, err
	}
	switch typ {
	case 'p':
		return body, nil
	case 'X':
		// The client gave up (psql does so to prompt for a password).
		return nil, errClientGone
	}
	return nil, protocolViolation("expected %s message, got message type %q", what, typ)
}

// cleartextExchange asks for the password and checks it against the
// verifier; a nil verifier (unknown user, no password) checks against a
// mock one so that the answer takes as long and always fails.
func (c *conn) cleartextExchange(user string, v *password.SCRAMVerifier) (bool, error) {
	c.wb.send(&pgproto3.AuthenticationCleartextPassword{})
	if err := c.wb.flush(); err != nil {
		return false, err
	}
	body, err := c.readAuthMessage("PasswordMessage")
	if err != nil {
		return false, err
	}
	var msg pgproto3.PasswordMessage
	if err := msg.Decode(body); err != nil {
		return false, protocolViolation("malformed PasswordMessage")
	}
	if v == nil {
		_ = c.srv.mockVerifier(user).Matches(msg.Password)
		return false, nil
	}
	return v.Matches(msg.Password), nil
}
