-- ON_ERROR_STOP: psql stops at the first error with exit status 3.
SELECT 1 AS before;
SELECT * FROM missing_table;
SELECT 2 AS never_reached;
