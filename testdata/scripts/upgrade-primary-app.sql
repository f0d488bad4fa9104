-- upgrade-primary-app.sql: step 5 of a PCR upgrade (docs/upgrades.md):
-- finalize the PRIMARY's application virtual cluster main, last. Run it IN
-- main (not in the system virtual cluster) as root:
--
--   psql "postgresql://root@PRIMARY:26257/defaultdb?options=-ccluster%3Dmain&sslmode=verify-full&..." \
--     -v ON_ERROR_STOP=1 -v upgrade_version=25.2 -f upgrade-primary-app.sql
--
-- psql variable: upgrade_version, the new release.
--
-- vcdb refuses (SQLSTATE 55000) while the primary's system virtual
-- cluster is older than upgrade_version, and while main replicates to a
-- standby whose system virtual cluster is older (the standby learns nothing
-- it could not run); the error names both versions. The standby's main
-- then follows by replication: upgrade-wait-standby-app.sql waits for it.
-- After a failover, the promoted standby's main is finalized with this same
-- script, run in the standby's main.
SET CLUSTER SETTING version = :'upgrade_version';
SHOW CLUSTER SETTING version;
