"""The upstream schema copies under tests/fixtures/upstream are the recorded ones, and the tests use nothing else."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from tests.helpers import schemas

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = schemas.FIXTURES
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| (?P<bytes>\d+) \| `(?P<sha256>[0-9a-f]{64})` \|$")


def recorded() -> dict[str, tuple[int, str]]:
    rows = {}
    for line in (FIXTURES / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match["file"]] = (int(match["bytes"]), match["sha256"])
    return rows


def test_every_fixture_file_is_recorded_in_sources_md():
    present = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    assert present == set(recorded())
    assert {p.relative_to(FIXTURES).as_posix() for p in schemas.SCHEMAS.values()} == present


@pytest.mark.parametrize("relative", sorted(recorded()))
def test_fixture_is_byte_identical_to_the_recorded_upstream_file(relative):
    size, sha256 = recorded()[relative]
    data = (FIXTURES / relative).read_bytes()
    assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256)


@pytest.mark.parametrize("name", sorted(schemas.SCHEMAS))
def test_schema_loads_and_is_a_valid_schema(name):
    validator = schemas.validator(name)
    assert validator.schema["$id"]
    assert list(validator.iter_errors([])), "a list is not a valid document, so the schema checks something"


def test_a_schema_that_cannot_be_loaded_raises(monkeypatch, tmp_path):
    monkeypatch.setitem(schemas.SCHEMAS, "missing", tmp_path / "absent.json")
    with pytest.raises(FileNotFoundError):
        schemas.load_schema("missing")


def test_nothing_reads_outside_the_repository_or_fetches_schemas():
    """Tests, scenarios and the Makefile name no path beside the clone and fetch nothing from the network."""
    forbidden = re.compile(r"\.\./shared|/work/shared|urlopen\(\s*[\"']https?://")
    offenders = []
    for top in ("tests", "molecule", "Makefile", "scripts/env.sh", ".ci"):
        base = ROOT / top
        for path in [base] if base.is_file() else sorted(base.rglob("*")):
            if path.is_file() and path.suffix in {"", ".py", ".yml", ".yaml", ".sh", ".j2"} and path != Path(__file__):
                text = path.read_text(encoding="utf-8", errors="replace")
                offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in forbidden.finditer(text)]
    assert offenders == []
