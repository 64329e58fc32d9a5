"""Telemetry: collectors, time series, Prometheus exporter."""
