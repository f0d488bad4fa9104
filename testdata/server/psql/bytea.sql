-- bytea_output in text results (TestE2EPsql).
\set ECHO all
CREATE TABLE blobs (k INT PRIMARY KEY, b BYTES);
INSERT INTO blobs VALUES (1, '\x000a5cff7e20'), (2, 'ab');
SELECT k, b FROM blobs ORDER BY k;
SET bytea_output = 'escape';
SELECT k, b FROM blobs ORDER BY k;
RESET bytea_output;
SELECT k, b FROM blobs ORDER BY k;
