"""The published OpenAPI document of the integration API is exactly what the code generates (Powertools'
event handler, from the routes and the pydantic models), so the document cannot drift from the API.
Regenerate with ``make openapi``."""

from __future__ import annotations

import json
from pathlib import Path

from functions.integration_api.app import openapi_document

PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "integration-api.openapi.json"


def test_the_published_openapi_document_is_what_the_code_generates():
    assert PUBLISHED.read_text(encoding="utf-8") == openapi_document(), "run `make openapi`"


def test_every_route_answers_for_a_missing_tenant_and_a_missing_resource():
    document = json.loads(openapi_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"403", "404"} <= set(operation["responses"]), (method, path)
            if "{" in path:
                assert all(p["in"] == "path" and p["schema"].get("pattern") for p in operation["parameters"]
                           if p["in"] == "path"), (method, path)


def test_settings_come_from_the_integration_model():
    from calsync.domain.model import Integration
    from calsync.services.connect.api import HIDDEN_FIELDS, IDENTITY_FIELDS, RUNTIME_FIELDS, SETTINGS_FIELDS

    assert set(SETTINGS_FIELDS) == set(Integration.model_fields) - IDENTITY_FIELDS - RUNTIME_FIELDS - HIDDEN_FIELDS
    change = json.loads(openapi_document())["components"]["schemas"]["SettingsChange"]["properties"]
    assert set(change) == set(SETTINGS_FIELDS)
