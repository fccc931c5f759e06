"""template.yaml's DynamoDB tables equal the pynamodb models in ``calsync.store.tables``.

Keys, attribute types, secondary indexes (keys, projection, included attributes) and the TTL attribute are
compared with pynamodb's own view of each model (``Model._get_schema()``, ``Model._ttl_attribute()``), so
a change on either side fails here rather than at the first write in AWS.

A model is paired with its table through the wiring the functions use at run time: the model's table name
comes from a setting whose environment variable (``CALSYNC_*_TABLE``) template.yaml's Globals bind to
``!Ref <Table>``. A model whose variable the template does not set, or sets to something other than a table,
fails as well.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from calsync.core.settings import Settings
from calsync.store.tables import ALL_MODELS, TABLE_SETTINGS
from devstack.cfn_template import load_template, ref_target, resources_of_type

TABLE_TYPE = "AWS::DynamoDB::Table"
MODEL_IDS = [model.__name__ for model in ALL_MODELS]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def table_variable(model: Any) -> str:
    """The ``CALSYNC_*_TABLE`` variable of the setting the model is bound to (``tables.TABLE_SETTINGS``)."""
    setting = TABLE_SETTINGS[model]
    variable: str = next(spec.metadata["env"] for spec in fields(Settings) if spec.name == setting)
    assert variable in Settings.required_variables() and variable.endswith("_TABLE")
    return variable


def table_of(template: dict[str, Any], model: Any) -> dict[str, Any]:
    """The template table bound to the model's environment variable in Globals.Function."""
    variable = table_variable(model)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert variable in variables, f"template.yaml Globals pass no {variable} to the functions ({model.__name__})"
    logical_id = ref_target(variables[variable])
    assert logical_id is not None, f"{variable} must be !Ref <Table>, got {variables[variable]!r}"
    resource = template["Resources"].get(logical_id)
    assert resource is not None and resource["Type"] == TABLE_TYPE, f"{variable} -> {logical_id} is not a table"
    properties: dict[str, Any] = resource["Properties"]
    return properties


# -- the two sides, in one shape --------------------------------------------------------------------------


def key_set(key_schema: list[dict[str, str]]) -> set[tuple[str, str]]:
    return {(key["AttributeName"], key["KeyType"]) for key in key_schema}


def index_shape(key_schema: list[dict[str, str]], projection: dict[str, Any]) -> dict[str, Any]:
    return {"keys": key_set(key_schema), "projection": projection["ProjectionType"],
            "included": sorted(projection.get("NonKeyAttributes", []))}


def template_indexes(indexes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {index["IndexName"]: index_shape(index["KeySchema"], index["Projection"]) for index in indexes}


def model_indexes(indexes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """From pynamodb's schema (``index_name``, ``key_schema``, ``projection``)."""
    return {index["index_name"]: index_shape(index["key_schema"], index["projection"]) for index in indexes}


def model_ttl(model: Any) -> str | None:
    attribute = model._ttl_attribute()
    return None if attribute is None else str(attribute.attr_name)


def table_ttl(table: dict[str, Any]) -> str | None:
    spec = table.get("TimeToLiveSpecification")
    if not spec or spec.get("Enabled") is not True:
        return None
    return str(spec["AttributeName"])


def template_shape(table: dict[str, Any]) -> dict[str, Any]:
    defined = [(d["AttributeName"], d["AttributeType"]) for d in table["AttributeDefinitions"]]
    assert len(defined) == len({name for name, _ in defined}), "an attribute is defined twice"
    return {
        "keys": key_set(table["KeySchema"]),
        "attribute_types": set(defined),
        "global_indexes": template_indexes(table.get("GlobalSecondaryIndexes", [])),
        "local_indexes": template_indexes(table.get("LocalSecondaryIndexes", [])),
        "ttl": table_ttl(table),
    }


def model_shape(model: Any) -> dict[str, Any]:
    schema = model._get_schema()
    return {
        "keys": key_set(schema["key_schema"]),
        "attribute_types": {(d["AttributeName"], d["AttributeType"]) for d in schema["attribute_definitions"]},
        "global_indexes": model_indexes(schema["global_secondary_indexes"]),
        "local_indexes": model_indexes(schema["local_secondary_indexes"]),
        "ttl": model_ttl(model),
    }


# -- tests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ALL_MODELS, ids=MODEL_IDS)
def test_table_matches_model(template, model):
    """Keys, attribute types, global and local indexes (keys, projection, included attributes), TTL."""
    assert template_shape(table_of(template, model)) == model_shape(model)


def test_every_template_table_has_a_model(template):
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    modelled = {ref_target(variables.get(table_variable(model))) for model in ALL_MODELS}
    unmodelled = set(resources_of_type(template, TABLE_TYPE)) - modelled
    assert not unmodelled, f"tables without a pynamodb model in calsync.store.tables: {sorted(unmodelled)}"
