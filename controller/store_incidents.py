"""The incidents table of the SQLite store (`Store.save_incidents`, `Store.load_incidents`).

One row per incident: its id, the N of `inc-N` (the order kept), its state and its JSON (the
correlator's record, `controller.incident_record`). Open incidents are all kept; of the resolved
ones, the `keep_resolved` with the highest N.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from controller.incident_model import incident_number

MIGRATION = """
    CREATE TABLE incidents(
        id TEXT PRIMARY KEY, number INTEGER NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL);
    CREATE INDEX incidents_by_state ON incidents(state, number);
"""


def save(
    db: sqlite3.Connection,
    incidents: Sequence[Mapping[str, Any]],
    gone: Sequence[str],
    keep_resolved: int,
) -> None:
    db.executemany("DELETE FROM incidents WHERE id=?", [(i,) for i in gone])
    db.executemany(
        "INSERT INTO incidents(id, number, state, data) VALUES(?,?,?,?) ON CONFLICT(id) DO "
        "UPDATE SET number=excluded.number, state=excluded.state, data=excluded.data",
        [(i["id"], incident_number(i["id"]), i["state"], json.dumps(i)) for i in incidents],
    )
    db.execute(
        "DELETE FROM incidents WHERE state='resolved' AND number NOT IN (SELECT number FROM "
        "incidents WHERE state='resolved' ORDER BY number DESC LIMIT ?)",
        (max(keep_resolved, 0),),
    )


def load(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute("SELECT data FROM incidents ORDER BY state='resolved', number")
    return [json.loads(r[0]) for r in rows]
