// Package password stores and checks passwords as SCRAM-SHA-256 verifiers
// (RFC 5802, RFC 7677), in the text form PostgreSQL keeps in pg_authid and
// CockroachDB in system.users:
//
//	SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>
//
// A verifier lets the server check a SCRAM proof or a cleartext password
// without ever holding the password: StoredKey = H(HMAC(SaltedPassword,
// "Client Key")) and ServerKey = HMAC(SaltedPassword, "Server Key"), with
// SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations).
//
// Invariants: a verifier is never derived twice from the same salt (each
// NewSCRAMVerifier draws a fresh random salt), so the same password never
// yields the same stored text; the password itself is never stored,
// logged or returned; comparisons of secrets are constant-time.
//
// Passwords are normalized with SASLprep's successor PRECIS OpaqueString
// (golang.org/x/text/secure/precis, already a dependency of pgx, whose
// client does the same), falling back to the raw bytes when normalization
// fails, as PostgreSQL and pgx do, so that a verifier made here matches
// the proof a pgx or libpq client computes from the same password. (pgx
// also keeps the raw bytes for characters unassigned in Unicode 3.2; such
// passwords may not match across clients, in PostgreSQL too.)
//
// The SCRAM message exchange (client-first, server-first, client-final) is
// the wire server's; this package offers the primitives it needs
// (VerifyClientProof, ServerSignature).
//
// The package is a leaf: it imports no other package of the project and
// starts no goroutines.
package password
