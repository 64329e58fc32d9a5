"""A database written by an older netpilot that accepted what this one refuses still opens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from controller.intents import Intent, IntentState
from controller.store import Store


def test_an_intent_this_version_refuses_is_set_aside_not_fatal(tmp_path: Path) -> None:
    db = tmp_path / "np.db"
    store = Store(db)
    store.put_intent(Intent.model_validate({"name": "ok", "src": "HQ", "dst": "DC1"}))
    spec = {"src": "HQ", "dst": "DC2", "sla": {"max_latency": 0.02}}
    store.put_intent(Intent.model_validate({"name": "old", **spec}))
    store.close()
    # what an older netpilot stored: a latency of 0, refused since
    with sqlite3.connect(db) as raw:
        bad = {**spec, "sla": {"max_latency": 0.0}}
        raw.execute("UPDATE intents SET spec=? WHERE name='old'", (json.dumps(bad),))

    store = Store(db)  # opens: no "stored intent is invalid" error
    try:
        assert [r.name for r in store.list_intents()] == ["ok"]
        assert store.find_intent("old") is None
        [last] = [t for t in store.transitions("old") if t.state is IntentState.WITHDRAWN]
        assert "no longer valid (sla.max_latency" in last.reason and "apply it again" in last.reason
        audit = [e for e in store.audit_log() if e["action"] == "set-aside"]
        assert [e["target"] for e in audit] == ["old"]
        record, changed = store.put_intent(Intent.model_validate({"name": "old", **spec}))
        assert changed and record.state is IntentState.ACCEPTED  # fixed and applied again
        assert store.check() == []
    finally:
        store.close()
