package password

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/errors"
	"golang.org/x/text/secure/precis"
)

// Method is the prefix of every SCRAM-SHA-256 verifier.
const Method = "SCRAM-SHA-256"

// DefaultIterations is the PBKDF2 iteration count of new verifiers:
// CockroachDB's default cost for SCRAM-SHA-256
// (server.user_login.password_hashes.default_cost.scram_sha_256 = 10610),
// chosen over PostgreSQL's 4096 because vcdb follows CockroachDB. Only
// CREATE/ALTER USER and cleartext logins pay it on the server; in a SCRAM
// exchange the client computes PBKDF2.
const DefaultIterations = 10610

// saltLen is the length of a new salt: 16 bytes, as PostgreSQL and
// CockroachDB use.
const saltLen = 16

// Bounds on what ParseSCRAMVerifier accepts, so that a corrupt or hostile
// stored verifier cannot make a login spend unbounded CPU.
const (
	minIterations = 1
	maxIterations = 10_000_000
)

// SCRAMVerifier is a parsed SCRAM-SHA-256 verifier.
type SCRAMVerifier struct {
	Iterations int
	Salt       []byte
	StoredKey  []byte
	ServerKey  []byte
}

// NewSCRAMVerifier returns the verifier text of password with a fresh
// random salt and DefaultIterations.
func NewSCRAMVerifier(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", errors.Wrap(err, "generating a password salt")
	}
	v, err := deriveVerifier(password, salt, DefaultIterations)
	if err != nil {
		return "", err
	}
	return v.String(), nil
}

// deriveVerifier computes the verifier of password for salt and iterations.
func deriveVerifier(password string, salt []byte, iterations int) (*SCRAMVerifier, error) {
	salted, err := saltedPassword(password, salt, iterations)
	if err != nil {
		return nil, err
	}
	clientKey := hmacSHA256(salted, []byte("Client Key"))
	stored := sha256.Sum256(clientKey)
	return &SCRAMVerifier{
		Iterations: iterations,
		Salt:       append([]byte(nil), salt...),
		StoredKey:  stored[:],
		ServerKey:  hmacSHA256(salted, []byte("Server Key")),
	}, nil
}

// saltedPassword is SaltedPassword of RFC 5802: PBKDF2 over the normalized
// password.
func saltedPassword(password string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, Normalize(password), salt, iterations, sha256.Size)
}

// Normalize prepares a password for hashing as SCRAM clients do (see the
// package doc).
func Normalize(password string) string {
	if !utf8.ValidString(password) {
		return password
	}
	ascii := true
	for i := 0; i < len(password); i++ {
		if password[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// PRECIS maps nothing in printable ASCII; skip the tables.
		return password
	}
	n, err := precis.OpaqueString.String(password)
	if err != nil {
		return password
	}
	return n
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// String returns the verifier in its stored text form.
func (v *SCRAMVerifier) String() string {
	enc := base64.StdEncoding
	var b strings.Builder
	b.WriteString(Method)
	b.WriteByte('$')
	b.WriteString(strconv.Itoa(v.Iterations))
	b.WriteByte(':')
	b.WriteString(enc.EncodeToString(v.Salt))
	b.WriteByte('$')
	b.WriteString(enc.EncodeToString(v.StoredKey))
	b.WriteByte(':')
	b.WriteString(enc.EncodeToString(v.ServerKey))
	return b.String()
}

// IsSCRAMVerifier reports whether s has the shape of a stored verifier
// (CREATE USER ... PASSWORD may be given one instead of a password, as in
// PostgreSQL and CockroachDB).
func IsSCRAMVerifier(s string) bool {
	_, err := ParseSCRAMVerifier(s)
	return err == nil
}

// errMalformed is returned for any text that is not a verifier. It never
// quotes the text, which may be a password typed by mistake.
var errMalformed = errors.New("malformed SCRAM-SHA-256 verifier")

// ParseSCRAMVerifier parses a stored verifier.
func ParseSCRAMVerifier(s string) (*SCRAMVerifier, error) {
	rest, ok := strings.CutPrefix(s, Method+"$")
	if !ok {
		return nil, errMalformed
	}
	params, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return nil, errMalformed
	}
	iterText, saltText, ok := strings.Cut(params, ":")
	if !ok {
		return nil, errMalformed
	}
	storedText, serverText, ok := strings.Cut(keys, ":")
	if !ok {
		return nil, errMalformed
	}
	iter, err := strconv.Atoi(iterText)
	if err != nil || iter < minIterations || iter > maxIterations {
		return nil, errMalformed
	}
	enc := base64.StdEncoding
	salt, err := enc.DecodeString(saltText)
	if err != nil || len(salt) == 0 {
		return nil, errMalformed
	}
	stored, err := enc.DecodeString(storedText)
	if err != nil || len(stored) != sha256.Size {
		return nil, errMalformed
	}
	server, err := enc.DecodeString(serverText)
	if err != nil || len(server) != sha256.Size {
		return nil, errMalformed
	}
	return &SCRAMVerifier{Iterations: iter, Salt: salt, StoredKey: stored, ServerKey: server}, nil
}

// Matches reports whether password is the one the verifier was made from
// (the cleartext password exchange). It costs one PBKDF2 derivation and
// compares in constant time.
func (v *SCRAMVerifier) Matches(password string) bool {
	d, err := deriveVerifier(password, v.Salt, v.Iterations)
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(d.StoredKey, v.StoredKey) == 1 &&
		subtle.ConstantTimeCompare(d.ServerKey, v.ServerKey) == 1
}

// VerifyClientProof checks a SCRAM client-final message's proof (RFC 5802
// §3): ClientSignature = HMAC(StoredKey, AuthMessage), ClientKey = proof
// XOR ClientSignature, and H(ClientKey) must equal StoredKey. authMessage
// is client-first-message-bare + "," + server-first-message + "," +
// client-final-message-without-proof.
func (v *SCRAMVerifier) VerifyClientProof(authMessage, proof []byte) bool {
	if len(proof) != sha256.Size {
		return false
	}
	sig := hmacSHA256(v.StoredKey, authMessage)
	clientKey := make([]byte, sha256.Size)
	for i := range clientKey {
		clientKey[i] = proof[i] ^ sig[i]
	}
	h := sha256.Sum256(clientKey)
	return subtle.ConstantTimeCompare(h[:], v.StoredKey) == 1
}

// ServerSignature is the server-final message's signature: HMAC(ServerKey,
// AuthMessage), which proves to the client that the server holds the
// verifier.
func (v *SCRAMVerifier) ServerSignature(authMessage []byte) []byte {
	return hmacSHA256(v.ServerKey, authMessage)
}
