"""Hypothesis strategies read from a JSON Schema: instances the published contract accepts, drawn from
the schema itself, so every rule added to it is fuzzed without touching the tests.

It knows the keywords ``schemas/appointment-changed.v1.json`` uses and refuses any other, so a new
keyword cannot be skipped silently. Strings come from their ``pattern`` (hypothesis' ``from_regex``)
within their length limits; ``date-time`` strings are real RFC 3339 times in every spelling the pattern
allows (``T``/``t``, ``Z``/``z``/offsets, 0–6 fraction digits), mostly from a window of a few days so
that start and end often make a real appointment, and sometimes straight from the pattern (impossible
dates); strings with ``examples`` draw them too (real zone names). Every instance is checked against
the schema with ``jsonschema``, so the generator cannot drift from what the schema says.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st
from jsonschema import Draft202012Validator, ValidationError, validators

_KNOWN = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "default", "examples", "type", "properties",
    "required", "additionalProperties", "anyOf", "enum", "const", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "format",
}
_WINDOW = (dt.datetime(2026, 11, 20), dt.datetime(2026, 11, 30))
_OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60)


class UnknownKeyword(AssertionError):
    """The schema uses a keyword this generator does not understand."""


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


@st.composite
def _instant(draw: st.DrawFn, low: dt.datetime, high: dt.datetime) -> str:
    moment = draw(st.datetimes(min_value=low, max_value=high))
    digits = draw(st.integers(0, 6))
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    zone = draw(st.one_of(st.sampled_from(["Z", "z"]), _OFFSETS.map(_offset_text)))
    separator = draw(st.sampled_from(["T", "t"]))
    return f"{moment:%Y-%m-%d}{separator}{moment:%H:%M:%S}{fraction}{zone}"


def rfc3339(pattern: str) -> st.SearchStrategy[str]:
    """Mostly real instants written as RFC 3339 allows (and the pattern asks), some pattern-shaped strings."""
    near = _instant(*_WINDOW)
    anywhere = _instant(dt.datetime(2000, 1, 2), dt.datetime(2999, 12, 30))
    return st.one_of(near, near, near, anywhere, st.from_regex(pattern, fullmatch=True))


def _string(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    if schema.get("format") == "date-time":
        base: st.SearchStrategy[str] = rfc3339(schema["pattern"])
    elif "format" in schema:
        raise UnknownKeyword(f"format {schema['format']}")
    elif "pattern" in schema:
        base = st.from_regex(schema["pattern"], fullmatch=True)
    else:
        base = st.text(min_size=low, max_size=high)
    if schema.get("examples"):
        examples = st.sampled_from(schema["examples"])
        base = st.one_of(examples, examples, base)
    return base.filter(lambda value: low <= len(value) and (high is None or len(value) <= high))


def strategy(schema: dict[str, Any], root: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Instances of ``schema`` (``root`` resolves ``$ref``)."""
    root = root or schema
    unknown = set(schema) - _KNOWN
    if unknown:
        raise UnknownKeyword(", ".join(sorted(unknown)))
    if "$ref" in schema:
        return strategy(root["$defs"][schema["$ref"].removeprefix("#/$defs/")], root)
    if "anyOf" in schema:
        return st.one_of([strategy(option, root) for option in schema["anyOf"]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    match schema.get("type"):
        case "string":
            return _string(schema)
        case "integer":
            return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
        case "boolean":
            return st.booleans()
        case "null":
            return st.none()
        case "object":
            return _object(schema, root)
    raise UnknownKeyword(f"type {schema.get('type')}")


def _object(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    if schema.get("additionalProperties") is not False:
        raise UnknownKeyword("objects must forbid additional properties")
    properties = {name: strategy(sub, root) for name, sub in schema.get("properties", {}).items()}
    required = set(schema.get("required", ()))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        instance = {}
        for name, values in properties.items():
            if name in required or draw(st.booleans()):
                instance[name] = draw(values)
        return instance

    return build()


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """``pattern`` as ECMA-262 reads it: Python's ``$`` also matches before a final newline, ECMA's does not."""
    if isinstance(instance, str) and not re.search(re.sub(r"\$$", r"\\Z", pattern), instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


EcmaValidator = validators.extend(Draft202012Validator, {"pattern": _ecma_pattern})  # type: ignore[no-untyped-call]
"""JSON Schema 2020-12 with ECMA-262 pattern anchors ("format" annotates, it does not assert)."""


def validator(schema: dict[str, Any]) -> Any:
    return EcmaValidator(schema)


def instances(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects the schema accepts (each checked with ``jsonschema``)."""
    validator = EcmaValidator(schema)

    def accepted(instance: dict[str, Any]) -> dict[str, Any]:
        errors = [error.message for error in validator.iter_errors(instance)]
        assert not errors, f"the generator made an instance the schema refuses: {errors}"
        return instance

    return strategy(schema).map(accepted)
