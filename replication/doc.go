// Package replication is physical cluster replication (PCR) at the KV
// level: the producer on the primary, the consumer on the standby, the
// stream framing, the job records, the frontier, the consumer state
// machine, failover (revert + activation) and failback. It works on KV
// spans and timestamps, never on SQL rows.
//
// # Dependencies
//
// Of the project it imports kv and tenant only. It reaches a remote primary
// through pgx's pgconn (source_pg.go) with a *pgconn.Config built above it
// (the URI parser with sslinline lives in certs, which this package does
// not import). The SQL layer calls the API below; nothing here imports sql
// or server.
//
// # Files
//
//	frame.go            binary event framing (v1; v2 adds a CRC-32C; strict decoder; fuzzed)
//	messages.go         control messages of the five internal statements (JSON)
//	frontier.go         Frontier: the replicated time of a span
//	state.go            Machine: the consumer state machine, Transitions table
//	jobs.go             job records (with their times) and the progress register
//	jobs_show.go        JobInfo: a job in SHOW JOBS's terms (types, statuses, error)
//	producer.go         Producer: start, heartbeat, complete, expiry, retention jobs
//	producer_stream.go  Producer.StreamPartition: initial scan + rangefeed → frames
//	source.go           Source (consumer's view of a primary), in-process Source
//	source_pg.go        PGSource: the statements over pgwire
//	consumer.go         Consumer: create, pause, resume, complete, cancel
//	consumer_job.go     a job's goroutine: the machine driven by events
//	ingest.go           a streaming session and the ingester
//	failover.go         revert and activation
//	failback.go         failback preconditions and divergence time
//	status.go           SHOW ... WITH REPLICATION STATUS, metrics, URI redaction
//	fingerprint.go      tenant-independent fingerprints
//	versions.go         the PCR version rule, framing choice, version hooks
//
// # Transport
//
// The consumer connects to the primary's system VC and runs, as the user of
// the URI (who needs REPLICATIONSOURCE or REPLICATION, checked by the SQL
// layer):
//
//	SELECT crdb_internal.start_replication_stream($1::STRING, $2::BYTES)     Producer.StartReplicationStream
//	SELECT crdb_internal.stream_partition($1::INT8, $2::BYTES)               Producer.StreamPartition
//	SELECT crdb_internal.replication_stream_heartbeat($1::INT8, $2::STRING)  Producer.HeartbeatReplicationStream
//	SELECT crdb_internal.complete_replication_stream($1::INT8, $2::BOOL)     Producer.CompleteReplicationStream
//	SELECT crdb_internal.replication_prior_details($1::STRING)               Producer.ReplicationPriorDetails
//
// Each builtin passes its SQL arguments to the Producer method and returns
// its BYTES result unchanged. stream_partition is long-running: the SQL
// layer must send each frame as one DataRow as soon as emit is called, and
// flush (no result buffering), since replication lag depends on it.
//
// A stream has one partition covering the VC's span. Frames carry keys
// without the source tenant prefix; the consumer prepends its own VC's
// prefix and keeps the original timestamps.
//
// # Consumer state machine
//
// Statuses are the strings SHOW prints (CONTRACT §3). Events from the run
// loop: connected, scan-done, progress, stream-error, retry-elapsed,
// revert-first-done, failover-done; from users: pause, resume, failover
// (COMPLETE REPLICATION), cancel (DROP).
//
//	initializing ──connected──► running initial scan ──scan-done──► replicating
//	  replication │                                                      │
//	   ▲          └──connected (scan already done)──────────────────────►┤
//	   │                                                                 │ failover(t),
//	 retry-elapsed                                                       │ t > replicated
//	   │                                                                 ▼
//	 replication ◄── stream-error (any streaming status)    replication pending failover
//	 error                                                               │ replicated ≥ t
//	   │ retries exhausted                                               ▼
//	   ▼                                                    replication failing over
//	 replication ◄── pause (any status but failing over)                 │ failover-done
//	 paused ──── failover(t ≤ replicated) ──────────────────────────────►┤
//	   │ resume: back to initializing                                    ▼
//	                                                             complete (VC ready)
//	cancel: any non-terminal status → cancelled.
//
// The exact table is Transitions in state.go; state_test.go checks the
// machine against it. Stream errors retry with exponential backoff; the
// retry counter resets whenever the replicated time advances, and after
// RetryPolicy.MaxRetries the job pauses ("replication error", then
// "replication paused") rather than fails, because failing would lose
// progress. A failover request unpauses a paused job. A failover time can
// be changed while pending and is refused once failing over (55000). A
// failback job starts in initializing with RevertFirst set: it reverts the
// span to the divergence time (revert-first-done), then streams without an
// initial scan.
//
// # Invariants
//
// replicated_time: every version with a timestamp at or below it is
// durable in the standby's VC span. The ingester writes the progress
// register (jobs.go), which holds the replicated time, in the same Pebble
// batch as the streamed data that precedes the checkpoint, or after the
// initial scan's SSTables are ingested; so the replicated time is never
// durable before the data below it. It never regresses (the Frontier only
// moves up, and the machine refuses a lower progress). After a restart or
// reconnect the consumer resumes the stream strictly above the persisted
// replicated time (or the initial scan at its persisted resume key):
// ingestion is idempotent (same key and timestamp, same value), so
// re-sent data duplicates nothing and nothing below the resume point is
// lost. The standby may hold versions above the replicated time; a
// failover reverts them.
//
// retained_time: the consumer's protected timestamp on its VC span, at
// max(start, replicated_time − retention), capped at the failover time once
// one is set, and never moved down. It is the earliest valid failover time:
// COMPLETE REPLICATION TO SYSTEM TIME t requires t ≥ retained_time (22023
// otherwise). The consumer heartbeats it to the producer, which moves its
// own protection on the source up to it (never down), so history needed
// for a fast failback is protected on both sides (CRDB-PCR-FACTS §3.2).
//
// Producer jobs expire after their expiration window (default 24 h)
// without a heartbeat; expiry releases their protection. A stream
// completed successfully (failover) keeps its protection until expiry, as
// does the post-failover retention job, so that failback within the window
// needs no full copy.
//
// # Hooks
//
// ConsumerHooks.ReaderActivated (a read-only VC became ready/shared: start
// its service) and DropReader (a failover to a past time, called for
// every live VC whose record reads the failed-over VC, including one left
// over from an earlier stream, before the activation so that the promoted
// VC never shows ready beside its reader) run synchronously in the job goroutine; whoever implements them
// must not wait, while they run, for anything that waits for the job (the
// SQL layer never holds its Host lock while it waits for a job).
//
// # Goroutines
//
// Producer.Start runs a janitor (expiry), stopped by Producer.Close.
// StreamPartition runs in its caller's goroutine. Consumer.Start runs one
// goroutine per live job, which owns the job's record and machine; a
// streaming session adds a session goroutine, a frame receiver and a
// heartbeater, all ended and waited for by the job goroutine before it moves
// on. Consumer.Close cancels and waits for all of them; jobs resume at the
// next Start. InProcessSource's partition streams own one goroutine each,
// ended by FrameStream.Close.
//
// # API for the SQL layer
//
// Source side (crdb_internal builtins, SET REPLICATION SOURCE EXPIRATION
// WINDOW): NewProducer, Producer.{Start, Close, StartReplicationStream,
// StreamPartition, HeartbeatReplicationStream, CompleteReplicationStream,
// ReplicationPriorDetails, SetExpirationWindow}.
//
// Standby side: NewConsumer(ConsumerConfig{Dial: ...}), Consumer.{Start,
// Close, Create, StartFailback, Pause, Resume, Complete, SetRetention,
// AddReader, Cancel, Status, ReplicatedTime, ReaderTimestamp, Metrics,
// WaitForJob};
// Fingerprint for SHOW EXPERIMENTAL_FINGERPRINTS; RedactURI; for SHOW
// JOBS, Consumer.Jobs and Producer.Jobs with ConsumerJobInfo and
// ProducerJobInfo (CockroachDB's job types and statuses; the statement and
// user that made a consumer job come in CreateRequest and FailbackRequest,
// the stream's user in StartReplicationStreamAs). Dial returns
// NewPGSource(config) for a URI. Errors carry SQLSTATEs (55000 wrong state,
// 22023 bad value, 42704 unknown, 42710 duplicate) with CockroachDB's
// wording. Versions come from the caller (ProducerConfig.TenantVersion,
// ConsumerConfig.TenantVersion: a VC's cluster version, read when needed
// since an operator may finalize at any time); the rule is this package's
// (versions.go).
//
// # Versions
//
// The source VC's cluster version and the standby system VC's travel in
// the start request and stream spec, in every partition spec and in every
// heartbeat (both directions), so each side knows the other's current
// version; ProducerJob.ConsumerVersion is what the source's SQL layer
// checks before it finalizes the VC (sql/version_pcr.go). CheckVersions:
// the standby is at the source's version or one release ahead, else 55000
// naming both. CREATE and failback refuse synchronously and create
// nothing; RESUME of a paused job refuses and leaves it paused; a
// mismatch found while streaming or at a reconnect pauses the job at once
// (Event.Permanent) with the refusal as its last error, and
// ConsumerHooks.Paused tells the Host. A refusal made by the source
// crosses pgwire as a 55000 whose constraint name is
// VersionConstraintName (marks do not travel); PGSource marks it again,
// so it pauses the job at its first occurrence too. Failback also refuses a target VC
// whose version is above the source VC's (the revert would downgrade it).
// Framing v2 (a CRC-32C per frame) is sent only when the source VC is at
// FramingV2ClusterVersion and the consumer announced MaxFraming ≥ 2 (a
// binary of release 25.2 or later). The producer watches the source VC's
// version setting in the live stream (ProducerConfig.VersionKey): a new
// version switches the framing from the next frame, and one the consumer
// cannot run ends the stream before it is sent. It also re-reads both
// versions at most every VersionCheckInterval after a checkpoint frame.
//
// # Tests and benchmarks
//
// testdata/replication holds the datadriven scenarios (two clusters in one
// process; vocabulary in datadriven_test.go). Property tests run concurrent
// writers with dropped connections and standby crashes (property_test.go);
// source_pg_test.go runs the pgconn Source against a minimal pgwire server
// over loopback. Benchmarks (bench_test.go) report replication lag with the
// primary's own checkpoint lag as a control, initial-scan MB/s, stream
// events/s, failover time and the primary's overhead.
package replication
