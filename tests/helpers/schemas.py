"""Upstream JSON Schemas for tests: from ../shared/upstream when that folder exists, else the published copy.

A test that can get neither fails: there is no fallback that would let it pass without checking anything.
"""

from __future__ import annotations

import json
import urllib.request
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_UPSTREAM = ROOT.parent / "shared" / "upstream"

SCHEMAS = {
    # name: (file under shared/upstream, published URL = the schema's $id, draft)
    "bifrost-config": ("bifrost/config.schema.json", "https://www.getbifrost.ai/schema"),
    "claude-code-settings": (
        "claude/claude-code-settings.json",
        "https://json.schemastore.org/claude-code-settings.json",
    ),
}


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    relative, url = SCHEMAS[name]
    local = SHARED_UPSTREAM / relative
    if local.is_file():
        return json.loads(local.read_text(encoding="utf-8"))
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - fixed https URL
        return json.loads(response.read().decode("utf-8"))


def validator(name: str):
    """A jsonschema validator of the right draft for the named schema."""
    import jsonschema

    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def errors(name: str, document: dict) -> list[str]:
    """Every validation error, as 'path: message' lines (empty when the document is valid)."""
    return [
        "/".join(str(p) for p in err.absolute_path) + ": " + err.message
        for err in validator(name).iter_errors(document)
    ]
