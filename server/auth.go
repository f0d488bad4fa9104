package server

import (
	"context"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
)

// authenticate is the authentication step of startup, between routing and
// opening the session. It runs the exchange of the chosen method on the
// connection and, when the client proved who it is, sends
// AuthenticationOk. An error is sent to the client as FATAL and the
// connection is closed.
//
// Insecure mode trusts the user name, as `cockroach start --insecure`
// does. The security issue extends this file: TLS is negotiated before
// startup (the SSLRequest answer in handshake), and here client
// certificates (CN = user) and SCRAM-SHA-256 (AuthenticationSASL,
// SASLInitialResponse, SASLResponse, AuthenticationSASLContinue/Final)
// are checked against the VC's users, with one message for unknown user
// and wrong password (contract §2).
func (c *conn) authenticate(_ context.Context, sp *startupParams) error {
	if !c.srv.cfg.Insecure {
		return errors.WithHint(pgerror.Newf(pgcode.InvalidAuthorizationSpecification,
			"password and certificate authentication are not available yet"),
			"Start the node with --insecure.")
	}
	c.wb.send(&pgproto3.AuthenticationOk{})
	return nil
}
