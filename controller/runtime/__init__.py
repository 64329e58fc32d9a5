"""The composition root: settings -> store, engine, southbound, telemetry, models, API.

`controller.runtime.assemble.build(settings)` is the one place the controller is assembled;
`netpilot controller run`, the demo and the tests build through it. Nothing is imported here, so
that reading the settings (every CLI start) does not load the models' libraries.
"""
