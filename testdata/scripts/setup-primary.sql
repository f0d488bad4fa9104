-- setup-primary.sql: prepare a cluster to be a replication source (the
-- primary, or the promoted standby before a failback). Run it in that
-- cluster's system virtual cluster as root:
--
--   psql "postgresql://root@HOST:PORT/defaultdb?options=-ccluster%3Dsystem&sslmode=verify-full&sslrootcert=certs/ca.crt&sslcert=certs/client.root.crt&sslkey=certs/client.root.key" \
--     -v ON_ERROR_STOP=1 -v repl_user=repl -v repl_password='...' -f setup-primary.sql
--
-- psql variables: repl_user, repl_password (the user the standby connects
-- as; give it to `vcdb encode-uri` afterwards).

-- The stream is a long-lived rangefeed (`vcdb start-single-node
-- --virtualized` already enables this; setting it again is harmless).
SET CLUSTER SETTING kv.rangefeed.enabled = true;

-- The replication user needs the REPLICATIONSOURCE system privilege and
-- nothing else: it can read the stream but not the data over SQL.
CREATE USER IF NOT EXISTS :"repl_user" WITH LOGIN PASSWORD :'repl_password';
ALTER USER :"repl_user" WITH PASSWORD :'repl_password';
GRANT SYSTEM REPLICATIONSOURCE TO :"repl_user";

-- The primary shows system and main, both ready and shared.
SHOW VIRTUAL CLUSTERS;
