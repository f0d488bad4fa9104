-- upgrade-standby-system.sql: step 2 of a PCR upgrade (docs/upgrades.md),
-- after the standby's binary was replaced and the node restarted: finalize
-- the STANDBY's system virtual cluster. Run it in the standby's system
-- virtual cluster as root:
--
--   psql "$STANDBY_SYSTEM_URL" -v ON_ERROR_STOP=1 -v upgrade_version=25.2 \
--     -f upgrade-standby-system.sql
--
-- psql variable: upgrade_version, the new release (the binary's; `vcdb
-- version` prints it as v25.2.0).
--
-- The standby goes first: a standby's system virtual cluster must be at
-- the primary virtual cluster's version or one release ahead, so it may
-- run ahead of the primary but never behind it. Its replicating virtual
-- cluster main is NOT finalized here: its version lives in its replicated
-- keyspace and follows the primary's main by replication.

-- A preserve_downgrade_option left from before the binary upgrade (the way
-- to keep a roll-back possible) holds the upgrade; clear it. With the
-- option unset the system virtual cluster also finalizes by itself shortly
-- after start-up; the SET below is then a no-op.
RESET CLUSTER SETTING cluster.preserve_downgrade_option;
SET CLUSTER SETTING version = :'upgrade_version';
SHOW CLUSTER SETTING version;
