"""The rows of every upload in PostgreSQL: one table of uploads, one of rows with their status."""

import contextlib

import psycopg2

import settings

SCHEMA_SQL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.uploads (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  rows integer NOT NULL
);
CREATE TABLE IF NOT EXISTS {schema}.rows (
  id bigserial PRIMARY KEY,
  upload_id bigint NOT NULL REFERENCES {schema}.uploads (id),
  url text NOT NULL,
  status text NOT NULL DEFAULT 'queued',
  page_chars integer,
  message text,
  error text
);
CREATE INDEX IF NOT EXISTS rows_upload_status ON {schema}.rows (upload_id, status);
"""


# One connection per process, opened on first use: a task would otherwise spend more CPU on
# connecting than on its work. Celery's prefork pool forks after import, so each child opens its own.
_conn = None


@contextlib.contextmanager
def connect():
    """A cursor in a transaction (committed on exit, rolled back on an error) on this process's connection."""
    global _conn
    if _conn is None or _conn.closed:
        _conn = psycopg2.connect(settings.DATABASE_URL)
        with _conn, _conn.cursor() as cur:
            cur.execute(f"SET search_path TO {settings.DATABASE_SCHEMA}")
    try:
        with _conn, _conn.cursor() as cur:
            yield cur
    except psycopg2.OperationalError:
        _conn.close()
        raise


def migrate():
    with connect() as cur:
        cur.execute(SCHEMA_SQL.format(schema=settings.DATABASE_SCHEMA))
