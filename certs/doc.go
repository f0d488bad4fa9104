// Package certs creates and loads vcdb's certificates and turns connection
// URIs into dialable configurations. It is the one place that knows file
// names, key permissions and TLS settings, so that the server, `vcdb sql`,
// `vcdb workload` and the replication client agree on them.
//
// Responsibilities:
//
//   - Creation (`vcdb cert`): a CA (CreateCA), a node certificate with CN
//     "node" and the listed hosts as SANs (CreateNode), and client
//     certificates with CN the user (CreateClient). Files are ca.crt,
//     node.crt/node.key and client.<user>.crt/.key in the certs directory;
//     the CA key lives outside it and is never loaded by a server. RSA keys
//     (default 2048 bits), lifetimes of 10 years (CA) and 5 years (others) of
//     366 days, as CockroachDB. Keys are written 0600 through a temporary file
//     and a rename, never world-readable even for a moment.
//   - Inspection (List, for `vcdb cert list`): every certificate with its
//     expiry and each problem that would make it unusable.
//   - Loading for the server (LoadServerTLSConfig, ClientCertUser): TLS 1.2+,
//     node.crt presented, client certificates verified against ca.crt when
//     given. CheckKeyPermissions refuses a key that others may read: 0600 (or
//     0700/0400) owned by the current user, or up to 0640/0740 owned by root;
//     its error is marked ErrKeyPermissions and hints at the chmod (or
//     chown) that fixes it.
//   - Connection URIs (ParseURI for pgconn, ParsePGXConfig for pgx.Conn):
//     libpq's sslmode semantics plus lib/pq's sslinline=true, which pgx does
//     not understand, so the tls.Config is built here; EncodeURI produces the
//     URIs `vcdb encode-uri` prints, URI.Redacted what may be displayed.
//
// Invariants: an error message never quotes a URI or a file's contents (they
// may hold passwords and keys); parameters that only configure the client
// (passwords, sslinline, certificate material) never become startup
// parameters sent to the server; a tls.Config built here never allows less
// than TLS 1.2.
//
// Dependencies: no other vcdb package (STYLE.md); externally pgx's pgconn for
// the configuration type and cockroachdb/errors.
//
// Goroutines: none. Every function is safe for concurrent use; the only
// shared state is read-only.
package certs
