-- psql's own catalog queries: \l, \dt, \d and \di (TestE2EPsql runs this with
-- ON_ERROR_STOP, so each must succeed).
\set ECHO all
CREATE DATABASE describe;
\c describe
CREATE TABLE orders (id INT PRIMARY KEY, item STRING, INDEX orders_item (item));
CREATE TABLE people (id INT PRIMARY KEY);
\l
\dt
\d
\di
