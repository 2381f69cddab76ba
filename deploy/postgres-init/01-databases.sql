-- The cspflow records database, created beside Temporal's on one PostgreSQL server.
--
-- Run once by the postgres image's entrypoint, when the `postgresql` volume is first initialised
-- (docker-entrypoint-initdb.d), as the superuser POSTGRES_USER. Temporal's own databases
-- (`temporal`, `temporal_visibility`) are created by temporalio/auto-setup, not here.
--
-- The records live in their own database owned by their own role, so the worker (which connects
-- as `cspflow`) cannot read or change Temporal's tables, and the records can be backed up,
-- restored or moved to another server on their own: point CSPFLOW_DATABASE_URL there.
--
-- The password comes from the container's RECORDS_DB_PASSWORD (psql 15+ \getenv); the same value
-- must appear in the worker's CSPFLOW_DATABASE_URL. To change it later, ALTER ROLE by hand: this
-- script does not run again on an initialised volume.

\set ON_ERROR_STOP on
\getenv records_password RECORDS_DB_PASSWORD

CREATE ROLE cspflow LOGIN PASSWORD :'records_password';
CREATE DATABASE cspflow_records OWNER cspflow ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE cspflow_records FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE cspflow_records TO cspflow;
