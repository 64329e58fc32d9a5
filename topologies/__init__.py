"""Bundled topologies and loaders (native YAML, Topology Zoo GML, node-link JSON, generators)."""
