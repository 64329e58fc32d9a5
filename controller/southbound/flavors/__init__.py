"""Device flavours: the YANG models a device speaks (netpilot's own, IOS-XR native, OpenConfig).

`get(name)` returns the flavour object (one per process, its libyang schema loaded on first
use); see docs/southbound-flavors.md for what each flavour carries and what it cannot.
"""

from __future__ import annotations

import functools

from controller.southbound.flavors.base import FLAVORS, Flavor, flavor_at

__all__ = ["FLAVORS", "FLAVOR_CHOICES", "Flavor", "flavor_at", "get"]

FLAVOR_CHOICES = (*FLAVORS, "mixed")


@functools.cache
def get(name: str) -> Flavor:
    """The flavour called `name` (netpilot, iosxr or openconfig)."""
    if name == "iosxr":
        from controller.southbound.flavors.iosxr import IosXr

        return IosXr()
    if name == "openconfig":
        from controller.southbound.flavors.openconfig import OpenConfig

        return OpenConfig()
    if name == "netpilot":
        from controller.southbound.flavors.netpilot import Netpilot

        return Netpilot()
    raise ValueError(f"flavor {name!r}: use one of {', '.join(FLAVORS)}")
