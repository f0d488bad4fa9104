-- setup-standby.sql: start replicating the primary's virtual cluster main
-- into a new virtual cluster main on the standby, with the read-only view
-- main-readonly. Run it in the standby's system virtual cluster (a node
-- started with --virtualized-empty) as root:
--
--   psql "postgresql://root@HOST:PORT/defaultdb?options=-ccluster%3Dsystem&sslmode=verify-full&sslrootcert=certs/ca.crt&sslcert=certs/client.root.crt&sslkey=certs/client.root.key" \
--     -v ON_ERROR_STOP=1 -v source_uri="$(vcdb encode-uri repl:PASSWORD@PRIMARY:PORT --ca-cert primary-certs/ca.crt --inline)" \
--     -f setup-standby.sql
--
-- psql variable: source_uri, the primary's system virtual cluster as
-- printed by `vcdb encode-uri --inline` for the user of setup-primary.sql.

SET CLUSTER SETTING kv.rangefeed.enabled = true;

-- The statement checks the URI, the user's privilege and that main exists
-- on the primary before it returns; on any error nothing is created.
CREATE VIRTUAL CLUSTER main FROM REPLICATION OF main ON :'source_uri' WITH READ VIRTUAL CLUSTER;

-- main shows "initializing replication", "running initial scan", then
-- "replicating"; main-readonly becomes ready and shared once the first
-- replicated time is recorded. Watch the stream with
--   SHOW VIRTUAL CLUSTER main WITH REPLICATION STATUS;
SHOW VIRTUAL CLUSTERS;
