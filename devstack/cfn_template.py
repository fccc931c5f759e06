"""Reads ``template.yaml`` as plain data, without SAM CLI or AWS: for the local deployment (``devstack.blueprint``)
and the template tests.

CloudFormation short tags become their long forms (``!Ref X`` -> ``{"Ref": "X"}``, ``!GetAtt A.B`` ->
``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` -> ``{"Fn::Sub": s}``, ...), which is what the template means.
The SAM tooling (aws-sam-translator) lives in its own venv because it pins pydantic, so most tests read the
YAML directly (SAM's Globals are resolved here with :func:`function_setting`); :func:`translated` runs the
translator in that venv for the tests that need the template as SAM deploys it (the generated roles).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that also accepts the CloudFormation intrinsic-function tags."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded = yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - a SafeLoader subclass
    assert isinstance(loaded, dict)
    return loaded


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in template["Resources"].items() if res["Type"] == resource_type}


def properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][logical_id].get("Properties", {})
    return props


def function_setting(template: dict[str, Any], function_id: str, key: str) -> Any:
    """A function property as SAM applies it: the function's own value, else the one in Globals.Function
    (maps are merged, the function's keys winning, as SAM does for Environment and LoggingConfig)."""
    own = properties(template, function_id).get(key)
    shared = template.get("Globals", {}).get("Function", {}).get(key)
    if isinstance(own, dict) and isinstance(shared, dict):
        return _merge(shared, own)
    return shared if own is None else own


def function_environment(template: dict[str, Any], function_id: str) -> dict[str, Any]:
    environment = function_setting(template, function_id, "Environment") or {}
    variables: dict[str, Any] = environment.get("Variables", {})
    return variables


SAM_REFERENCES = (".Alias", ".Version")
"""``!Ref Function.Alias``: SAM's name for the alias (or version) ``AutoPublishAlias`` creates."""


def ref_target(value: Any) -> str | None:
    """The logical id in ``{"Ref": id}`` or ``{"Fn::GetAtt": [id, attr]}``, else None. A reference to a
    function's published alias or version names the function."""
    if isinstance(value, dict) and "Ref" in value:
        target = str(value["Ref"])
        for suffix in SAM_REFERENCES:
            target = target.removesuffix(suffix)
        return target
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return None


def render_sub(template: dict[str, Any], text: str, values: Mapping[str, str] | None = None) -> str:
    """Fills a ``Fn::Sub`` string offline: ``values`` first, then parameters get their default, anything
    else its own name."""
    parameters = template.get("Parameters", {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if values is not None and name in values:
            return values[name]
        if name in parameters and "Default" in parameters[name]:
            return str(parameters[name]["Default"])
        return name

    return re.sub(r"\$\{([^}!]+)\}", fill, text)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


def translated(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as SAM deploys it: translated to plain CloudFormation by aws-sam-translator, which runs in
    the SAM venv (``make validate`` builds it; it pins pydantic, so it stays out of the dev venv)."""
    import json
    import subprocess

    if not SAM_PYTHON.exists():
        raise RuntimeError(f"{SAM_PYTHON} is missing: run `make .venv-sam/.stamp` (make test and make unit do)")
    script = Path(__file__).with_name("sam_translate.py")
    done = subprocess.run([str(SAM_PYTHON), str(script), str(path)], capture_output=True, text=True, check=False,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"aws-sam-translator refused the template:\n{done.stderr[-4000:]}")
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded
