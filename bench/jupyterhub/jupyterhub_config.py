# JupyterHub for the benchmark (bench/jupyterhub-target.ts appends the ports, the database
# URL and the service token). Its defaults stay as shipped (log level INFO, poll intervals),
# except what the comparison needs: an instant spawner, and SQLite tuned like ours.
import sqlite3

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, _record):
    # The pool opens SQLite with journal_mode=WAL and synchronous=NORMAL; so does the hub here.
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


c = get_config()  # noqa: F821 (JupyterHub's config loader defines it)
c.JupyterHub.spawner_class = "instant_spawner.InstantSpawner"
c.JupyterHub.authenticator_class = "dummy"
c.JupyterHub.cleanup_servers = True
c.JupyterHub.load_roles = [
    {"name": "bench-admin", "scopes": ["admin:users", "admin:servers"], "services": ["bench"]},
]
