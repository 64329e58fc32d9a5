"""Device flavours: the YANG models a device speaks (netpilot's own, IOS-XR native, OpenConfig).

`get(name)` returns the flavour object (one per process, its libyang schema loaded on first
use); `get(name, facts)` the flavour bound to one router's facts (its SRv6 locator and
interfaces, from the inventory: the iosxr flavour writes them; the schema stays shared). See
docs/southbound-flavors.md for what each flavour carries and what it cannot.
"""

from __future__ import annotations

import functools

from controller.southbound.flavors.base import FLAVORS, Flavor, flavor_at
from controller.southbound.inventory import DeviceFacts

__all__ = ["FLAVORS", "FLAVOR_CHOICES", "Flavor", "flavor_at", "get"]

FLAVOR_CHOICES = (*FLAVORS, "mixed")


@functools.lru_cache(maxsize=4096)
def get(name: str, facts: DeviceFacts | None = None) -> Flavor:
    """The flavour called `name` (netpilot, iosxr or openconfig), bound to a router's `facts`
    where the flavour uses them (iosxr); the others ignore them."""
    if name == "iosxr":
        from controller.southbound.flavors.iosxr import IosXr

        return IosXr(facts or DeviceFacts())
    if facts is not None:
        return get(name)
    if name == "openconfig":
        from controller.southbound.flavors.openconfig import OpenConfig

        return OpenConfig()
    if name == "netpilot":
        from controller.southbound.flavors.netpilot import Netpilot

        return Netpilot()
    raise ValueError(f"flavor {name!r}: use one of {', '.join(FLAVORS)}")
