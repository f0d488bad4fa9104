-- upgrade-wait-standby-app.sql (psql only): step 6 of a PCR upgrade
-- (docs/upgrades.md): wait until the standby's replicating virtual cluster
-- main shows the new version, which arrives by replication after
-- upgrade-primary-app.sql. Run it in the standby's system virtual cluster:
--
--   psql "$STANDBY_SYSTEM_URL" -v ON_ERROR_STOP=1 -v upgrade_version=25.2 \
--     -f upgrade-wait-standby-app.sql
--
-- psql variables: upgrade_version; wait_seconds (default 60).
--
-- As wait-for-state.sql, the script includes itself once per poll (ten a
-- second) and stops the run with an error when the time is up.
\if :{?wait_seconds}
\else
\set wait_seconds 60
\endif
\if :{?upgrade_polls}
\else
\set upgrade_polls 0
\endif
SELECT version = :'upgrade_version' AS upgrade_done,
       :upgrade_polls + 1 AS upgrade_polls,
       :upgrade_polls + 1 >= :wait_seconds * 10 AS upgrade_timed_out,
       version AS upgrade_last
  FROM [SHOW CLUSTER SETTING version FOR VIRTUAL CLUSTER main] \gset
\if :upgrade_done
\echo main is at version :upgrade_version by replication
\unset upgrade_polls
\elif :upgrade_timed_out
\echo main did not reach version :upgrade_version within :wait_seconds s (last: :upgrade_last)
\unset upgrade_polls
SELECT "upgrade-wait-standby-app.sql: timed out";
\else
\! sleep 0.1
\ir upgrade-wait-standby-app.sql
\endif
