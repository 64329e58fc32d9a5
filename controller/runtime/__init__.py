"""The composition root: settings -> store, engine, southbound, telemetry, models, API.

`build(settings)` (controller.runtime.assemble) is the one place the controller is assembled;
`netpilot controller run`, the demo and the tests build through it.
"""

from controller.runtime.assemble import Runtime, build
from controller.runtime.settings import Settings, make_settings

__all__ = ["Runtime", "Settings", "build", "make_settings"]
