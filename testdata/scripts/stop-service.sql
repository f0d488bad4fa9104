-- stop-service.sql: stop serving virtual cluster main on this cluster. It
-- returns once no session of main is left (open connections are ended).
-- Used on the promoted standby before completing a failback, so that no
-- write made there after the failback's failover time is lost. No
-- variables: `vcdb sql -f stop-service.sql` works too.
ALTER VIRTUAL CLUSTER main STOP SERVICE;
SHOW VIRTUAL CLUSTERS;
