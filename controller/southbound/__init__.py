"""Southbound: installs desired device configs as network-wide transactions."""
