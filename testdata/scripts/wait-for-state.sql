-- wait-for-state.sql (psql only): wait until virtual cluster main shows
-- a data_state (SHOW VIRTUAL CLUSTERS), polling ten times a second. Run it
-- in the system virtual cluster after failover-latest.sql,
-- failover-time.sql or failback-complete.sql, before start-service.sql.
--
-- psql variables (optional): wait_state, the state to wait for (default
-- ready; replicating after setup-standby.sql or failback.sql);
-- wait_seconds, how long to wait before failing (default 60).
--
-- psql has no loop, so the script includes itself once per poll; with
-- ON_ERROR_STOP=1 it stops the run with an error if the time is up.
\if :{?wait_state}
\else
\set wait_state ready
\endif
\if :{?wait_seconds}
\else
\set wait_seconds 60
\endif
\if :{?wait_polls}
\else
\set wait_polls 0
\endif
SELECT data_state = :'wait_state' AS wait_done,
       :wait_polls + 1 AS wait_polls,
       :wait_polls + 1 >= :wait_seconds * 10 AS wait_timed_out,
       data_state AS wait_last_state
  FROM [SHOW VIRTUAL CLUSTER main] \gset
\if :wait_done
\echo main is :wait_state
\unset wait_polls
\elif :wait_timed_out
\echo main did not become :wait_state within :wait_seconds s (last state: :wait_last_state)
\unset wait_polls
SELECT "wait-for-state.sql: timed out";
\else
\! sleep 0.1
\ir wait-for-state.sql
\endif
