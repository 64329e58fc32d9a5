"""The netpilot flavour: netpilot's own module `netpilot-srv6-te` (render.py, state_xml.py)."""

from __future__ import annotations

from controller.desired import DeviceConfig
from controller.devicestate import DeviceState
from controller.southbound import render, state_xml
from controller.southbound.flavors.base import Element, LazySchema, subtree_filter
from controller.southbound.yang import MODULE_CAPABILITY, NS, Schema


class Netpilot:
    name = "netpilot"

    def __init__(self) -> None:
        self._schema = LazySchema(Schema)

    def schema(self) -> Schema:
        return self._schema.get()

    def capabilities(self) -> list[str]:
        return [MODULE_CAPABILITY]

    def render(self, cfg: DeviceConfig) -> Element:
        return render.render_config(cfg)

    def parse(self, device: str, root: Element) -> DeviceConfig:
        return render.parse_config(device, root)

    def carried(self, cfg: DeviceConfig) -> DeviceConfig:
        return render.canonical(cfg)

    def problems(self, cfg: DeviceConfig) -> list[str]:
        return []

    def edit(self, previous: DeviceConfig, desired: DeviceConfig, *, full: bool) -> Element | None:
        return render.render_edit(previous, desired, full=full)

    def config_filter(self) -> Element:
        return render.config_filter()

    def state_filter(self) -> Element:
        return subtree_filter((NS, "device-state"))

    def render_state(self, state: DeviceState) -> list[Element]:
        return [state_xml.render_state(state)]

    def parse_state(self, device: str, root: Element) -> DeviceState:
        return state_xml.parse_state(device, root)
