"""JSON Schema of the intent shorthands, for the OpenAPI document (`controller/api_openapi.py`).

The intent model takes `"DC1"` for `{"node": "DC1"}`, `"10.1.0.0/16"` for a prefix and `"10M"` or
`"150ms"` for numbers; these annotations say so in the schema (`anyOf`), with limits as standard
JSON Schema keywords. Every string a pattern here allows, the model accepts: the patterns are a
strict subset of what `controller.units` reads (wider inputs still work, they are just not
promised). Pure data, no I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

BANDWIDTH_PATTERN = r"^([0-9]{1,4}(\.[0-9]{1,6})? ?[kKmMgG]?|[0-9](\.[0-9]{1,6})? ?[tT])(bps)?$"
"""Up to 9999.999999G or 9.999999T (under the 1e13 bit/s limit); K, M, G, T are powers of 1000."""
DURATION_PATTERN = (
    r"^([1-9][0-9]{0,5}(\.[0-9]{1,3})? ?(ms|us|ns)"
    r"|[1-9][0-9]{0,2}(\.[0-9]{1,3})? ?s"
    r"|([1-5][0-9]|[1-9])(\.[0-9]{1,3})? ?min)$"
)
"""Above zero and under an hour: ns, us, ms up to 999999.999, s up to 999.999, min up to 59.999."""

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"({_OCTET}\.){{3}}{_OCTET}/(3[0-2]|[12]?[0-9])"
_H = "[0-9a-fA-F]{1,4}"
_IPV6_ADDRESS = "|".join(
    (
        rf"({_H}:){{7}}{_H}",
        rf"({_H}:){{1,7}}:",
        rf"({_H}:){{1,6}}:{_H}",
        rf"({_H}:){{1,5}}(:{_H}){{1,2}}",
        rf"({_H}:){{1,4}}(:{_H}){{1,3}}",
        rf"({_H}:){{1,3}}(:{_H}){{1,4}}",
        rf"({_H}:){{1,2}}(:{_H}){{1,5}}",
        rf"{_H}:(:{_H}){{1,6}}",
        rf":((:{_H}){{1,7}}|:)",
    )
)
_IPV6 = rf"({_IPV6_ADDRESS})/(12[0-8]|1[01][0-9]|[1-9]?[0-9])"
PREFIX_PATTERN = rf"^({_IPV4}|{_IPV6})$"
"""An IPv4 or IPv6 prefix in CIDR form (host bits may be set: they are cleared)."""

PREFIX: dict[str, Any] = {
    "type": "string",
    "pattern": PREFIX_PATTERN,
    "examples": ["10.1.0.0/16", "2001:db8:1::/48"],
}
NODE: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[^/]+$",
    "description": "a node of the controller's topology (its name has no '/')",
    "examples": ["DC1"],
}

_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


class Shorthand:
    """A number that may also be written as a string with a unit: the schema is `anyOf` the
    number (its pydantic bounds renamed to the standard keywords) and a string matching
    `pattern`."""

    def __init__(self, pattern: str, examples: list[str], description: str) -> None:
        self.pattern, self.examples, self.description = pattern, examples, description

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        inner = handler(core_schema)
        number: dict[str, Any] = {"type": "number"}
        for key, value in inner.items():
            if key in _BOUNDS:
                number[_BOUNDS[key]] = value
            elif key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                number[key] = value
        text = {"type": "string", "pattern": self.pattern, "examples": self.examples}
        return {"anyOf": [number, text], "description": self.description}


BANDWIDTH = Shorthand(
    BANDWIDTH_PATTERN, ["10M", "2.5G", "250 Mbps"], "bit/s, or a string with a unit (K, M, G, T)"
)
DURATION = Shorthand(
    DURATION_PATTERN, ["150ms", "20 ms", "1.5s"], "seconds, or a string with a unit (ms, s, min)"
)


def endpoint_schema(schema: dict[str, Any]) -> None:
    """The Endpoint model's schema, made `anyOf` its shorthands (a node name, a prefix) and the
    object form, which needs a node or at least one prefix."""
    obj = {k: v for k, v in schema.items() if k not in ("title", "description")}
    props = obj.get("properties", {})
    if "prefixes" in props:
        props["prefixes"] = {**props["prefixes"], "items": PREFIX}
    obj["anyOf"] = [
        {"required": ["node"], "properties": {"node": {"type": "string"}}},
        {"required": ["prefixes"], "properties": {"prefixes": {"minItems": 1}}},
    ]
    for key in list(schema):
        if key not in ("title", "description"):
            del schema[key]
    schema["anyOf"] = [NODE, {**PREFIX, "description": "an IP prefix a node owns"}, obj]
