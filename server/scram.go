package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgcode"
	"github.com/cockroachdb/cockroachdb-parser/pkg/sql/pgwire/pgerror"
	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/vcdb/vcdb/sql/password"
)

// The server side of SCRAM-SHA-256 (RFC 5802 with RFC 7677's hash) over
// PostgreSQL's SASL messages:
//
//	S: AuthenticationSASL [SCRAM-SHA-256]
//	C: SASLInitialResponse  client-first-message   n,,n=,r=<client nonce>
//	S: AuthenticationSASLContinue  server-first    r=<nonce>,s=<salt>,i=<iterations>
//	C: SASLResponse  client-final-message          c=biws,r=<nonce>,p=<proof>
//	S: AuthenticationSASLFinal  server-final       v=<server signature>
//	S: AuthenticationOk
//
// Channel binding (SCRAM-SHA-256-PLUS) is not offered: the client's gs2
// flag may be "n" (no support) or "y" (supported, but the server offered
// none); "p" is refused. As in PostgreSQL, the user name inside the SCRAM
// message is ignored (libpq sends it empty): the startup message's user is
// the one authenticated.

// scramMechanism is the only SASL mechanism advertised.
const scramMechanism = "SCRAM-SHA-256"

// scramNonceLen is the number of random bytes of the server's nonce
// (PostgreSQL's SCRAM_RAW_NONCE_LEN).
const scramNonceLen = 18

// errSCRAMMalformed is the answer to a SCRAM message that breaks the
// grammar; the detail says which part.
func errSCRAMMalformed(detail string) error {
	return errors.WithDetail(protocolViolation("malformed SCRAM message"), detail)
}

// scramExchange runs the exchange for user against verifier v, or against
// a mock verifier when v is nil (unknown user or no password), and reports
// whether the client proved the password. Protocol errors are returned as
// errors (08P01); a wrong proof is ok=false with no error.
func (c *conn) scramExchange(user string, v *password.SCRAMVerifier) (ok bool, err error) {
	mock := v == nil
	if mock {
		v = c.srv.mockVerifier(user)
	}
	c.wb.send(&pgproto3.AuthenticationSASL{AuthMechanisms: []string{scramMechanism}})
	if err := c.wb.flush(); err != nil {
		return false, err
	}
	body, err := c.readAuthMessage("SASLInitialResponse")
	if err != nil {
		return false, err
	}
	var initial pgproto3.SASLInitialResponse
	if err := initial.Decode(body); err != nil {
		return false, protocolViolation("malformed SASLInitialResponse message")
	}
	if initial.AuthMechanism != scramMechanism {
		return false, protocolViolation("client selected an invalid SASL authentication mechanism")
	}
	first, err := parseClientFirst(string(initial.Data))
	if err != nil {
		return false, err
	}
	var raw [scramNonceLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return false, err
	}
	nonce := first.nonce + base64.StdEncoding.EncodeToString(raw[:])
	serverFirst := "r=" + nonce + ",s=" + base64.StdEncoding.EncodeToString(v.Salt) +
		",i=" + strconv.Itoa(v.Iterations)
	c.wb.send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := c.wb.flush(); err != nil {
		return false, err
	}
	body, err = c.readAuthMessage("SASLResponse")
	if err != nil {
		return false, err
	}
	var resp pgproto3.SASLResponse
	if err := resp.Decode(body); err != nil {
		return false, protocolViolation("malformed SASLResponse message")
	}
	final, err := parseClientFinal(string(resp.Data))
	if err != nil {
		return false, err
	}
	if final.channelBinding != first.gs2Header {
		return false, protocolViolation("SCRAM channel binding check failed")
	}
	if final.nonce != nonce {
		return false, errSCRAMMalformed("Nonce does not match.")
	}
	authMessage := []byte(first.bare + "," + serverFirst + "," + final.withoutProof)
	if !v.VerifyClientProof(authMessage, final.proof) || mock {
		return false, nil
	}
	c.wb.send(&pgproto3.AuthenticationSASLFinal{
		Data: []byte("v=" + base64.StdEncoding.EncodeToString(v.ServerSignature(authMessage))),
	})
	return true, nil
}

// clientFirst is a parsed client-first-message.
type clientFirst struct {
	// gs2Header is "n,," or "y,,", which the client-final message must
	// repeat (base64) as its channel binding.
	gs2Header string
	// bare is client-first-message-bare, part of the AuthMessage.
	bare  string
	nonce string
}

// parseClientFirst parses
//
//	gs2-cbind-flag "," [authzid] "," [reserved-mext ","] username "," nonce ["," extensions]
func parseClientFirst(s string) (clientFirst, error) {
	var f clientFirst
	var rest string
	switch {
	case strings.HasPrefix(s, "n,"), strings.HasPrefix(s, "y,"):
		rest = s[2:]
	case strings.HasPrefix(s, "p="):
		return f, protocolViolation("the client requested SCRAM channel binding, which this server does not offer")
	default:
		return f, errSCRAMMalformed("Unexpected channel-binding flag.")
	}
	if strings.HasPrefix(rest, "a=") {
		return f, pgerror.New(pgcode.FeatureNotSupported,
			"client uses authorization identity, but it is not supported")
	}
	if !strings.HasPrefix(rest, ",") {
		return f, errSCRAMMalformed("Comma expected after the channel-binding flag.")
	}
	f.bare = rest[1:]
	f.gs2Header = s[:len(s)-len(f.bare)]
	fields := strings.Split(f.bare, ",")
	if strings.HasPrefix(fields[0], "m=") {
		return f, pgerror.New(pgcode.FeatureNotSupported, "client requires an unsupported SCRAM extension")
	}
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") {
		return f, errSCRAMMalformed("Expected user name and nonce attributes.")
	}
	f.nonce = fields[1][2:]
	if !validNonce(f.nonce) {
		return f, errSCRAMMalformed("The nonce is empty or holds characters outside printable ASCII.")
	}
	return f, nil
}

// validNonce checks RFC 5802's printable: %x21-2B / %x2D-7E.
func validNonce(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	// channelBinding is the decoded c= attribute.
	channelBinding string
	nonce          string
	// withoutProof is client-final-message-without-proof, part of the
	// AuthMessage.
	withoutProof string
	proof        []byte
}

// parseClientFinal parses
//
//	"c=" base64(gs2-header) "," "r=" nonce ["," extensions] "," "p=" base64(proof)
func parseClientFinal(s string) (clientFinal, error) {
	var f clientFinal
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return f, errSCRAMMalformed("Proof attribute expected at the end.")
	}
	f.withoutProof = s[:i]
	proof, err := base64.StdEncoding.DecodeString(s[i+3:])
	if err != nil || len(proof) != sha256.Size {
		return f, errSCRAMMalformed("Malformed proof.")
	}
	f.proof = proof
	fields := strings.Split(f.withoutProof, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "c=") || !strings.HasPrefix(fields[1], "r=") {
		return f, errSCRAMMalformed("Expected channel-binding and nonce attributes.")
	}
	cb, err := base64.StdEncoding.DecodeString(fields[0][2:])
	if err != nil {
		return f, errSCRAMMalformed("Malformed channel-binding attribute.")
	}
	f.channelBinding = string(cb)
	f.nonce = fields[1][2:]
	return f, nil
}

// mockVerifier is the verifier an unknown user (or one without a
// password) is checked against. Its salt is derived from the server's
// random secret and the user name, so repeated attempts for the same name
// see the same salt, as for a real user, and names cannot be told apart
// by it. Its keys match no password.
func (s *Server) mockVerifier(user string) *password.SCRAMVerifier {
	mac := hmac.New(sha256.New, s.mockSecret[:])
	mac.Write([]byte("salt\x00" + user))
	salt := mac.Sum(nil)[:16]
	mac.Reset()
	mac.Write([]byte("keys\x00" + user))
	keys := mac.Sum(nil)
	return &password.SCRAMVerifier{
		Iterations: password.DefaultIterations,
		Salt:       salt,
		StoredKey:  keys,
		ServerKey:  keys,
	}
}
