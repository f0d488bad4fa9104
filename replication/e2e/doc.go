// Package e2e holds the end-to-end tests of physical cluster replication
// (PCR) with real binaries: two `vcdb start-single-node` processes on
// 127.0.0.1 in secure mode (a primary started with --virtualized, a
// standby with --virtualized-empty), each with its own CA made by `vcdb
// cert`, the replication URI made by `vcdb encode-uri --inline`, load from
// `vcdb workload` and every SQL step taken by psql running the operator
// scripts of testdata/scripts (setup-primary.sql, setup-standby.sql,
// failover-latest.sql, failover-time.sql, wait-for-state.sql,
// start-service.sql, stop-service.sql, failback.sql,
// failback-complete.sql). The tests drive the system only the way an
// operator following the seed page would; they never import the packages
// under test.
//
// The package has no non-test code. Scenarios are datadriven files under
// testdata/ (vocabulary in e2e_test.go): the happy path (workload on the
// primary, reads of main-readonly, failover to the latest time while the
// workload runs, fingerprints and the bank invariant on the promoted
// standby, writes there, failback that moves only the new data), a
// failover to a past time, and the faults (SIGKILL of the standby
// mid-stream and a restart, SIGKILL of the primary followed by a failover,
// the connection cut for 10 s by a TCP proxy written in the test). Each
// ends with equal fingerprints over [retained time, failover time] on both
// sides, the bank invariant, and the same rows on both sides as of the
// failover time, so that nothing committed at or below it is missing.
//
// Two scenarios upgrade a pair (testdata/upgrade, testdata/upgrade-failover,
// with testdata/scripts/upgrade-*.sql): both clusters start on a
// previous-release binary, $VCDB_PREV_BIN or the module built once with
// the link-time override tenant.binaryVersionOverride (upgrade_test.go),
// and are restarted on the binary under test in the order of the upgrade
// procedure (docs/upgrades.md), one of them failing over midway.
//
// Goroutines: every process a test starts (nodes, workloads) has one
// goroutine waiting for it, and the proxy one accept loop plus two copy
// goroutines per connection; all are ended and waited for in the test's
// cleanup (leaktest checks). Every wait is bounded.
//
// Binary under test: $VCDB_BIN (set by `make test`), else one built with
// `go build` into a temporary directory. psql (PostgreSQL's client) must
// be on PATH.
package e2e
