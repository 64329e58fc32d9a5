"""CLI command groups; `cli.py` composes them into the `netpilot` app."""
