-- failback.sql: make the original primary replicate main back from the
-- promoted standby, moving only what changed since the failover (no
-- initial scan). Run it in the ORIGINAL PRIMARY's system virtual cluster,
-- after setup-primary.sql has created a replication user on the promoted
-- standby:
--
--   psql "$PRIMARY_SYSTEM_URL" -v ON_ERROR_STOP=1 \
--     -v source_uri="$(vcdb encode-uri repl:PASSWORD@STANDBY:PORT --ca-cert standby-certs/ca.crt --inline)" \
--     -f failback.sql
--
-- psql variable: source_uri, the promoted standby's system virtual
-- cluster as printed by `vcdb encode-uri --inline`.

-- The original primary's main must not serve: its writes after the
-- failover time are discarded by the failback. Applications must already
-- use the promoted standby.
ALTER VIRTUAL CLUSTER main STOP SERVICE;

-- Reverts main to the failover time, then streams the standby's changes
-- since then. It fails (and changes nothing) if main was never replicated
-- to or from that cluster, or if the history since the failover time is no
-- longer retained.
ALTER VIRTUAL CLUSTER main START REPLICATION OF main ON :'source_uri';

-- main: replicating, none. To finish the failback: stop writes on the
-- standby (stop-service.sql there), then run failback-complete.sql,
-- wait-for-state.sql and start-service.sql here.
SHOW VIRTUAL CLUSTERS;
