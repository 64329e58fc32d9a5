"""The controller's settings: one validated object, from command-line flags over the environment
over defaults.

`netpilot controller run` reads each flag with an `NETPILOT_*` environment variable behind it
(typer's `envvar`), so a flag beats the environment and the environment beats the default; the
demo and the tests build `Settings(...)` directly. Every field is checked here, and a bad value
fails with one line naming the flag (or variable) and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from controller.errors import UsageError, pydantic_message

DriftMode = Literal["repair", "report", "off"]

ENV = {
    "topology": "NETPILOT_TOPOLOGY",
    "db": "NETPILOT_DB",
    "store": "NETPILOT_STORE",
    "lease_ttl_s": "NETPILOT_LEASE_TTL",
    "replica_id": "NETPILOT_REPLICA_ID",
    "listen": "NETPILOT_LISTEN",
    "inventory": "NETPILOT_INVENTORY",
    "secrets": "NETPILOT_SECRETS",
    "models": "NETPILOT_MODELS",
    "interval_s": "NETPILOT_TELEMETRY_INTERVAL",
    "drift": "NETPILOT_DRIFT",
    "drift_interval_s": "NETPILOT_DRIFT_INTERVAL",
    "hold_time_s": "NETPILOT_HOLD_TIME",
    "improvement": "NETPILOT_IMPROVEMENT",
    "tls_cert": "NETPILOT_TLS_CERT",
    "tls_key": "NETPILOT_TLS_KEY",
    "premove_periods": "NETPILOT_PREMOVE_PERIODS",
    "robust_forecast": "NETPILOT_ROBUST_FORECAST",
    "southbound_shards": "NETPILOT_SOUTHBOUND_SHARDS",
    "inventory_watch_s": "NETPILOT_INVENTORY_WATCH",
}
"""The environment variable behind each setting (documented in `controller run --help`)."""

FLAGS = {
    "interval_s": "--interval",
    "drift_interval_s": "--drift-interval",
    "hold_time_s": "--hold-time",
    "tick_s": "--tick",
    "stale_after_s": "--stale-after",
    "token_file": "--token-file",
    "lease_ttl_s": "--lease-ttl",
    "inventory_watch_s": "--inventory-watch",
}


class Settings(BaseModel):
    """Everything `controller run` needs to assemble the controller (see `controller.runtime`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topology: str = Field(min_length=1)
    db: Path | None = None
    """The SQLite file of the store (the default backend)."""
    store: str | None = None
    """`etcd://HOST:PORT[,HOST:PORT...][/PREFIX]`: the store on etcd instead of `db`; replicas
    on the same store elect one leader (controller.ha)."""
    lease_ttl_s: int = Field(default=3, ge=2, le=60)
    """With --store: seconds a dead or cut-off leader keeps its leadership."""
    replica_id: str | None = Field(default=None, min_length=1, max_length=200)
    """With --store: this replica's name in /readyz (default HOSTNAME:PORT)."""
    listen: str = "127.0.0.1:8080"
    token_file: Path | None = None
    prefixes: Path | None = None
    inventory: Path | None = None
    secrets: Path | None = None
    models: Path | None = None
    southbound_shards: int = Field(default=0, ge=0, le=64)
    """NETCONF sessions held by this many worker processes (controller/southbound/shard.py);
    0: in the controller's own process."""
    inventory_watch_s: float = Field(default=5.0, gt=0, le=3600)
    """Seconds between looks at the inventory file: devices added to it are pushed to without
    a restart (controller/southbound/inventory_reload.py)."""
    interval_s: float = Field(default=10.0, gt=0, le=3600)
    """Seconds between telemetry rounds."""
    stale_after_s: float | None = Field(default=None, gt=0, le=3600)
    """A device that has not answered within this many seconds of a round's start is stale for
    that round (default: 80 % of the interval)."""
    drift: DriftMode = "repair"
    drift_interval_s: float = Field(default=300.0, gt=0, le=86400)
    hold_time_s: float = Field(default=300.0, ge=0, le=86400)
    improvement: float = Field(default=0.10, ge=0, lt=1)
    tick_s: float = Field(default=60.0, gt=0, le=86400)
    debounce_s: float = Field(default=0.2, ge=0, le=60)
    risk_floor: float = Field(default=0.2, ge=0, le=1)
    """Fault risks below this are not handed to the engine (noise)."""
    premove_periods: bool = False
    """Learn each link's daily profile per class and move `bigdata` and `office` off a link
    before a predictable busy period (issue 18; `telemetry.linkmodels.PeriodLinkModels`)."""
    period_s: float = Field(default=86_400.0, gt=0, le=7 * 86_400)
    """The traffic period in seconds of network time (a day; the demo compresses time)."""
    periods_lead_s: float = Field(default=900.0, ge=0, le=86_400)
    """How far ahead of a busy period the elastic classes move."""
    robust_forecast: bool = False
    """Each link's forecast signal is the worst of a set of plausible futures: the p90, the
    latest round, the same time a period (`period_s`) earlier and the recent peak (issue 18,
    item 3; `models.robust_forecast`)."""
    tls_cert: Path | None = None
    """PEM certificate (chain) the API serves HTTPS with; needs `tls_key`."""
    tls_key: Path | None = Field(default=None, validate_default=True)
    """The certificate's private key (unencrypted PEM)."""

    @field_validator("store")
    @classmethod
    def _etcd_url(cls, store: str | None) -> str | None:
        if store is not None and not re.fullmatch(
            r"etcd://[^,/:]+:\d+(,[^,/:]+:\d+)*(/.*)?", store
        ):
            raise ValueError("write etcd://HOST:PORT[,HOST:PORT...], e.g. etcd://127.0.0.1:2379")
        return store

    @field_validator("tls_key")
    @classmethod
    def _tls_pair(cls, key: Path | None, info: ValidationInfo) -> Path | None:
        cert = info.data.get("tls_cert")
        if cert is not None and key is None:
            raise ValueError("missing: --tls-cert needs its key")
        if cert is None and key is not None:
            raise ValueError("needs --tls-cert too (the certificate this key belongs to)")
        return key

    @property
    def round_deadline_s(self) -> float:
        return self.stale_after_s if self.stale_after_s is not None else 0.8 * self.interval_s

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"--listen {listen!r}: write HOST:PORT, e.g. 127.0.0.1:8080")
    return host.strip("[]"), int(port)


def _flag(field: str) -> str:
    flag = FLAGS.get(field, "--" + field.replace("_", "-"))
    env = ENV.get(field)
    return f"{flag} (or {env})" if env else flag


def make_settings(**values: Any) -> Settings:
    """`Settings(**values)`, with a validation failure turned into one line naming the flag."""
    try:
        settings = Settings(**values)
    except pydantic.ValidationError as error:
        item = error.errors()[0]
        field = str(item["loc"][0]) if item.get("loc") else "settings"
        message = pydantic_message(item)
        raise UsageError(f"{_flag(field)}: {message} (got {item.get('input')!r})") from None
    parse_listen(settings.listen)
    if settings.db is None and settings.store is None:
        raise UsageError("--db (or NETPILOT_DB): missing; give a SQLite file, or --store etcd://")
    return settings
