"""Test harness: flow-level simulator, simulated NETCONF routers, scenarios."""
