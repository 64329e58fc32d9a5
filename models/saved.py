"""Save and load the two model kinds with their feature schemas (see `models.persist`)."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models import persist
from models.baseline_detector import COLUMNS, OnlineDetector
from models.fault_features import FEATURES
from models.faults import FaultModel
from models.features import FeatureConfig
from models.forecast import ForecastModel
from models.periods import PeriodModel


def save_forecast(path: Path, model: ForecastModel, info: dict[str, Any]) -> persist.Header:
    cfg = asdict(model.cfg)
    extra = {
        "feature_config": cfg,
        "horizons": list(model.horizons),
        "trained_steps": model.trained_until,
        "fit_seconds": round(model.fit_seconds, 2),
        "ewma_alpha": {str(h): m.ref_alpha for h, m in model.per_horizon.items()},
    }
    return persist.save(path, "forecast", model, model.cfg.names(), {**extra, **info})


def load_forecast(path: Path) -> tuple[persist.Header, ForecastModel]:
    header, _ = persist.read_header(path)
    try:
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in header.info["feature_config"].items()
        }
        cfg = FeatureConfig(**fields)
    except (KeyError, TypeError):
        raise persist.ModelFileError(
            f"{path}: no usable feature_config in the header; retrain with "
            "`netpilot model train forecast`"
        ) from None
    header, model = persist.load(path, "forecast", cfg.names())
    if not isinstance(model, ForecastModel):
        raise persist.ModelFileError(f"{path}: payload is not a forecast model")
    return header, model


def save_faults(path: Path, model: FaultModel, info: dict[str, Any]) -> persist.Header:
    extra = {
        "fit_seconds": round(model.fit_seconds, 2),
        "risk_alarm": asdict(model.risk_alarm),
        "deviation_alarm": asdict(model.mad_alarm),
    }
    return persist.save(path, "faults", model, list(FEATURES), {**extra, **info})


def load_faults(path: Path) -> tuple[persist.Header, FaultModel]:
    header, model = persist.load(path, "faults", list(FEATURES))
    if not isinstance(model, FaultModel):
        raise persist.ModelFileError(f"{path}: payload is not a fault model")
    return header, model


def save_detector(path: Path, model: OnlineDetector, info: dict[str, Any]) -> persist.Header:
    extra = {
        "reference_rounds": model.reference,
        "time_scale": model.time_scale,
        "rules": {
            c: asdict(r)
            for c, r in zip(COLUMNS, model.detector.rules, strict=True)
            if math.isfinite(r.on)
        },
    }
    return persist.save(path, "detector", model, list(COLUMNS), {**extra, **info})


def load_detector(path: Path) -> tuple[persist.Header, OnlineDetector]:
    header, model = persist.load(path, "detector", list(COLUMNS))
    if not isinstance(model, OnlineDetector):
        raise persist.ModelFileError(f"{path}: payload is not a baseline detector")
    return header, model


def save_periods(path: Path, model: PeriodModel, info: dict[str, Any]) -> persist.Header:
    classes = sorted({c for _, c in model.profiles})
    extra = {"period_s": model.period_s, "bins": model.bins, "links": model.links()}
    return persist.save(path, "periods", model, classes, {**extra, **info})


def load_periods(path: Path) -> tuple[persist.Header, PeriodModel]:
    header, _ = persist.read_header(path)
    header, model = persist.load(path, "periods", header.features)
    if not isinstance(model, PeriodModel):
        raise persist.ModelFileError(f"{path}: payload is not a period model")
    return header, model
