package workload

import (
	"context"
	"strings"

	"github.com/cockroachdb/errors"
	"github.com/jackc/pgx/v5"
)

// Dialect is the SQL dialect of the server under load. The workloads use the
// same statements on both wherever the dialects agree; this type holds the
// few places where they do not.
type Dialect int

const (
	// Cockroach is vcdb's dialect (CockroachDB's): databases hold tables
	// directly, UPSERT exists, every transaction is serializable and AS OF
	// SYSTEM TIME reads the past.
	Cockroach Dialect = iota
	// Postgres is PostgreSQL's: `kv.kv` is schema kv in the connected
	// database, writes that may conflict use INSERT ... ON CONFLICT, and
	// transactions ask for SERIALIZABLE explicitly.
	Postgres
)

func (d Dialect) String() string {
	if d == Postgres {
		return "postgres"
	}
	return "cockroach"
}

// Detect asks the server which dialect it speaks. A server that reports a
// crdb_version status parameter at startup, or whose version() names
// CockroachDB or vcdb, speaks Cockroach; so does one that rejects version()
// with an SQL error, since every PostgreSQL has it. Anything else is
// PostgreSQL.
func Detect(ctx context.Context, conn *pgx.Conn) (Dialect, error) {
	if conn.PgConn().ParameterStatus("crdb_version") != "" {
		return Cockroach, nil
	}
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()", pgx.QueryExecModeSimpleProtocol).Scan(&v); err != nil {
		if sqlState(err) != "" {
			return Cockroach, nil
		}
		return 0, errors.Wrap(err, "detecting the server's dialect")
	}
	lv := strings.ToLower(v)
	if strings.Contains(lv, "cockroachdb") || strings.Contains(lv, "vcdb") {
		return Cockroach, nil
	}
	return Postgres, nil
}

// createContainer returns the statement that creates the namespace holding a
// workload's table: a database in CockroachDB's dialect, a schema (of the
// connected database) in PostgreSQL's. Either way the table's name is
// name.name.
func (d Dialect) createContainer(name string) string {
	if d == Postgres {
		return "CREATE SCHEMA IF NOT EXISTS " + name
	}
	return "CREATE DATABASE IF NOT EXISTS " + name
}

// upsertPrefix returns the start of a statement that writes rows whether or
// not their keys exist: UPSERT in CockroachDB's dialect; in PostgreSQL's, the
// INSERT whose ON CONFLICT clause upsertSuffix adds.
func (d Dialect) upsertPrefix(table, cols string) string {
	if d == Postgres {
		return "INSERT INTO " + table + " (" + cols + ") VALUES "
	}
	return "UPSERT INTO " + table + " (" + cols + ") VALUES "
}

// upsertSuffix completes upsertPrefix for a table keyed by key whose other
// column is val.
func (d Dialect) upsertSuffix(key, val string) string {
	if d == Postgres {
		return " ON CONFLICT (" + key + ") DO UPDATE SET " + val + " = excluded." + val
	}
	return ""
}

// beginSerializable starts a serializable transaction. vcdb's transactions
// are always serializable; PostgreSQL's default is READ COMMITTED.
func (d Dialect) beginSerializable() string {
	if d == Postgres {
		return "BEGIN ISOLATION LEVEL SERIALIZABLE"
	}
	return "BEGIN"
}

// asOfSystemTime returns the clause that reads at a past timestamp, or an
// error on PostgreSQL, which has no such reads.
func (d Dialect) asOfSystemTime(ts string) (string, error) {
	if ts == "" {
		return "", nil
	}
	if d == Postgres {
		return "", errors.New("AS OF SYSTEM TIME is not available on PostgreSQL")
	}
	return " AS OF SYSTEM TIME '" + strings.ReplaceAll(ts, "'", "''") + "'", nil
}
