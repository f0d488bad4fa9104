-- Run by TestE2EPsql with psql -X -v ON_ERROR_STOP=1 -f smoke.sql: every
-- statement must succeed; the output is compared with the script file
-- testdata/server/psql/script.
\set ECHO all
CREATE DATABASE shop;
\c shop
CREATE TABLE items (
  id INT PRIMARY KEY,
  name STRING NOT NULL,
  price DECIMAL(10,2),
  weight FLOAT8,
  added DATE,
  seen TIMESTAMPTZ,
  tags JSONB,
  code UUID,
  blob BYTES,
  ok BOOL,
  wait INTERVAL
);
INSERT INTO items VALUES
  (1, 'apple', 1.25, 0.1, '2024-01-02', '2024-01-02 03:04:05.678+00', '{"color": "red"}', '6ba7b810-9dad-11d1-80b4-00c04fd430c8', '\x00ff', true, '1 day 02:03:04'),
  (2, 'pear', 2.50, 1e-7, '2024-12-31', '2024-12-31 23:59:59+00', '[1, 2]', NULL, '', false, '-1 mons'),
  (3, 'it''s "quoted"', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM items ORDER BY id;
SET TIME ZONE 'Asia/Kolkata';
SELECT id, seen FROM items WHERE seen IS NOT NULL ORDER BY id;
SET TIME ZONE 'UTC';
-- psql sends each statement of a line as its own Query.
SELECT count(*) FROM items; SELECT max(price) FROM items;
BEGIN;
UPDATE items SET price = price * 2 WHERE id = 1 RETURNING id, price;
ROLLBACK;
SELECT price FROM items WHERE id = 1;
-- psql variables and \gset.
\set wanted 2
SELECT name FROM items WHERE id = :wanted;
SELECT name AS fruit FROM items WHERE id = 1 \gset
\echo fruit is :fruit
-- Expanded output is client-side formatting over the same rows.
\x on
SELECT id, name FROM items WHERE id = 2;
\x off
SELECT 1 AS one, NULL AS nothing, 'x' AS x;
