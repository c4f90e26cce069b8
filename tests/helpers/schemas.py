"""Upstream JSON Schemas for tests, loaded only from the byte-identical copies in tests/fixtures/upstream/.

No network and nothing outside the repository: a schema that is missing or not valid JSON raises, so the test that
needs it fails instead of passing without checking anything. SOURCES.md beside the copies records where each came from.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "upstream"

SCHEMAS = {
    "bifrost-config": FIXTURES / "bifrost" / "config.schema.json",
    "claude-code-settings": FIXTURES / "claude" / "claude-code-settings.json",
}


def schema_path(name: str) -> Path:
    return SCHEMAS[name]


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict:
    return json.loads(SCHEMAS[name].read_text(encoding="utf-8"))


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
