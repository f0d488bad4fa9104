-- upgrade-primary-system.sql: step 4 of a PCR upgrade (docs/upgrades.md),
-- after the standby's binary and system virtual cluster are upgraded
-- (upgrade-standby-system.sql) and the primary's binary was replaced and
-- the node restarted: finalize the PRIMARY's system virtual cluster. Run
-- it in the primary's system virtual cluster as root:
--
--   psql "$PRIMARY_SYSTEM_URL" -v ON_ERROR_STOP=1 -v upgrade_version=25.2 \
--     -f upgrade-primary-system.sql
--
-- psql variable: upgrade_version, the new release.
--
-- An application virtual cluster is never above its system virtual
-- cluster, so the system virtual cluster goes before main.
RESET CLUSTER SETTING cluster.preserve_downgrade_option;
SET CLUSTER SETTING version = :'upgrade_version';
SHOW CLUSTER SETTING version;
