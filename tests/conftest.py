"""Test-suite wide setup: import path for the collection, and Molecule scenarios started early in the background."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = Path(os.environ.get("ANSIBLE_HOME", ROOT / ".cache" / "ansible-home")) / "collections"

# `ansible_collections.aigateway.bifrost` resolves through the symlink made by `make collection`.
for entry in (str(COLLECTIONS), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

# Plugins under test (lookups, filters, action plugins) load through Ansible's collection loader; install it once,
# before any test imports `ansible_collections`, so module and plugin tests share one view of the collection.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402

init_plugin_loader([str(COLLECTIONS)])


def pytest_collection_modifyitems(session, config, items):
    """Run the slow Molecule scenarios last, but start them first (in the background) so they overlap the rest."""
    from tests.scenarios import runner

    scenario_items = [item for item in items if item.get_closest_marker("scenario")]
    others = [item for item in items if not item.get_closest_marker("scenario")]
    items[:] = others + scenario_items
    names = [item.get_closest_marker("scenario").args[0] for item in scenario_items]
    if names and not config.option.collectonly:
        runner.start(names)


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario(name): a Molecule scenario run by tests/scenarios/runner.py")
