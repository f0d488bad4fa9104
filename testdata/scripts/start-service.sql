-- start-service.sql: serve the promoted virtual cluster main once a
-- failover (or the end of a failback) has made it ready. Run it in the
-- system virtual cluster of the cluster that takes over. No variables:
-- `vcdb sql -f start-service.sql` works too.
--
-- Fails with "cannot use tenant service mode shared with data state ..."
-- while main is still replicating or failing over: wait until SHOW VIRTUAL
-- CLUSTERS shows it ready (wait-for-state.sql does that in psql).
ALTER VIRTUAL CLUSTER main START SERVICE SHARED;

-- Connections that name no virtual cluster go to main (a standby started
-- with --virtualized-empty has this already).
SET CLUSTER SETTING server.controller.default_target_cluster = 'main';

-- main: ready, shared. Applications must now be pointed at this cluster;
-- nothing stops them from writing to the old primary.
SHOW VIRTUAL CLUSTERS;
