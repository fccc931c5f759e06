"""Microsoft Graph's Event, Calendar and Subscription schemas, held as data, for the Graph simulator to
reject unknown fields.

The field lists in ``graph_schema.json`` are extracted once from the Kiota models that Microsoft
generates from Graph's own metadata and ships in the ``msgraph-sdk`` package
(``msgraph/generated/models/*.py``: each model's ``get_field_deserializers`` names every JSON field
and its type). The SDK itself is not a dependency: it unpacks to about 450 MB. To refresh the file:

    python -m venv /tmp/msgraph && /tmp/msgraph/bin/pip install msgraph-sdk
    .venv/bin/python -m devstack.sims.microsoft.schema /tmp/msgraph/lib/python3.13/site-packages/msgraph > \\
        devstack/sims/microsoft/graph_schema.json
"""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("graph_schema.json")
ROOT_TYPE = "Event"
ROOT_TYPES = ("Event", "Calendar", "Subscription")

_FIELD = re.compile(r'"(?P<name>[^"]+)": lambda n : setattr\(self, \'\w+\', n\.(?P<getter>get_\w+)\((?P<arg>\w*)\)\)')
_IMPORT = re.compile(r"from \.(?P<module>\w+) import (?P<name>\w+)")
_MEMBER = re.compile(r'^\s+\w+ = "(?P<value>[^"]*)",?\s*$', re.MULTILINE)
_SCALARS = {
    "get_str_value": "string", "get_bool_value": "boolean", "get_int_value": "integer",
    "get_float_value": "number", "get_datetime_value": "datetime", "get_date_value": "date",
    "get_time_value": "time", "get_timedelta_value": "duration", "get_uuid_value": "string",
    "get_bytes_value": "string",
}
_MIXINS = {"AdditionalDataHolder", "BackedModel", "Parsable"}


# -- extraction (run by hand against an msgraph-sdk install) ---------------------------------------------

def _class_source(models: Path, name: str) -> tuple[str, dict[str, str]]:
    source = ""
    for path in models.glob("*.py"):
        text = path.read_text()
        if re.search(rf"^class {name}\(", text, re.MULTILINE):
            source = text
            break
    if not source:
        raise LookupError(name)
    return source, {m["name"]: m["module"] for m in _IMPORT.finditer(source)}


def extract(package: Path) -> dict[str, Any]:
    """Every type reachable from the root types: its fields (kind and, for objects and enums, the type name)."""
    models = package / "generated" / "models"
    types: dict[str, dict[str, Any]] = {}
    enums: dict[str, list[str]] = {}
    pending = list(ROOT_TYPES)
    while pending:
        name = pending.pop()
        if name in types or name in enums:
            continue
        source, _imports = _class_source(models, name)
        header = re.search(rf"^class {name}\((?P<bases>[^)]*)\)", source, re.MULTILINE)
        bases = [b.strip() for b in header["bases"].split(",")] if header else []
        if "Enum" in bases:
            enums[name] = [m["value"] for m in _MEMBER.finditer(source)]
            continue
        fields: dict[str, Any] = {}
        block = source[source.find("def get_field_deserializers"):]
        for match in _FIELD.finditer(block[:block.find("return fields")]):
            getter, arg = match["getter"], match["arg"]
            if getter in _SCALARS:
                fields[match["name"]] = {"kind": _SCALARS[getter]}
            elif getter == "get_collection_of_primitive_values":
                fields[match["name"]] = {"kind": "array", "items": {"kind": "string" if arg == "str" else arg}}
            elif getter in ("get_object_value", "get_enum_value"):
                fields[match["name"]] = {"kind": "object" if getter == "get_object_value" else "enum", "type": arg}
                pending.append(arg)
            elif getter in ("get_collection_of_object_values", "get_collection_of_enum_values"):
                kind = "object" if getter == "get_collection_of_object_values" else "enum"
                fields[match["name"]] = {"kind": "array", "items": {"kind": kind, "type": arg}}
                pending.append(arg)
            else:
                raise ValueError(f"{name}.{match['name']}: unknown getter {getter}")
        parents = [b for b in bases if b not in _MIXINS]
        types[name] = {"base": parents[0] if parents else None, "fields": fields}
        pending.extend(parents)
    versions = sorted(p.name.removesuffix(".dist-info").split("-")[1]
                      for p in package.parent.glob("msgraph_sdk-*.dist-info"))
    return {"source": f"msgraph-sdk {versions[-1] if versions else '?'} generated models",
            "types": dict(sorted(types.items())), "enums": dict(sorted(enums.items()))}


# -- validation (used by the simulator) ----------------------------------------------------------------

@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return loaded


def fields_of(type_name: str) -> dict[str, Any]:
    """The fields of a type including those it inherits."""
    types = schema()["types"]
    fields: dict[str, Any] = {}
    current: str | None = type_name
    while current:
        fields = {**types[current]["fields"], **fields}
        current = types[current]["base"]
    return fields


def problems(value: Any, type_name: str = ROOT_TYPE, path: str = "") -> list[str]:
    """What is wrong with ``value`` as a JSON ``type_name``: unknown fields, wrong kinds, bad enum values."""
    if not isinstance(value, dict):
        return [f"{path or type_name}: expected an object"]
    found: list[str] = []
    fields = fields_of(type_name)
    for name, item in value.items():
        where = f"{path}.{name}" if path else name
        if name.startswith("@odata."):
            continue
        spec = fields.get(name)
        if spec is None:
            found.append(f"{where}: the property '{name}' does not exist on type 'microsoft.graph.{type_name}'")
            continue
        found.extend(_check(item, spec, where))
    return found


def _check(value: Any, spec: dict[str, Any], where: str) -> list[str]:
    if value is None:
        return []
    kind = spec["kind"]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        return [p for index, item in enumerate(value) for p in _check(item, spec["items"], f"{where}[{index}]")]
    if kind == "object":
        return problems(value, spec["type"], where)
    if kind == "enum":
        allowed = schema()["enums"][spec["type"]]
        values = value.split(",") if isinstance(value, str) else [None]
        return [] if all(v is not None and v.strip() in allowed for v in values) else [f"{where}: not a valid value"]
    expected = {"boolean": bool, "integer": int, "number": int | float}.get(kind, str)
    if not isinstance(value, expected) or (kind in ("integer", "number") and isinstance(value, bool)):
        return [f"{where}: expected {kind}"]
    return []


if __name__ == "__main__":
    json.dump(extract(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
