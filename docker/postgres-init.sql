-- Runs once, when the PostgreSQL volume is first created (/docker-entrypoint-initdb.d).
-- The image creates POSTGRES_DB (newswatch) for POSTGRES_USER; the Prefect server gets
-- a database of its own on the same server, owned by the same user.
CREATE DATABASE prefect;
