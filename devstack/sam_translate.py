"""Prints template.yaml as CloudFormation (JSON), translated by aws-sam-translator: what SAM deploys.

Run with the SAM venv's Python (``.venv-sam/bin/python devstack/sam_translate.py``): aws-sam-translator
pins pydantic, so it is kept out of the dev venv (see ``devstack.cfn_template.translated``). Offline: local
``CodeUri``/``ContentUri`` paths become placeholder S3 URIs (as ``sam validate`` does) and no managed policy
is looked up by name (the template names none).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicyLookups:
    def load(self) -> dict[str, str]:
        return {}


def main(path: Path) -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://local-build/{properties[key]}"
    json.dump(transform(template, {}, _NoManagedPolicyLookups()), sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
