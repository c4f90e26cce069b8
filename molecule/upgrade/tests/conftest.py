"""The shared gateway fixtures (molecule/default/tests/gateway_fixtures.py), for this scenario's tests too."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "default" / "tests"))

from gateway_fixtures import check_mode_run, credentials_dir, curl, gw, main_pid, molecule_config, secrets  # noqa: E402

# pytest finds fixtures by name in this module.
__all__ = ["check_mode_run", "credentials_dir", "curl", "gw", "main_pid", "molecule_config", "secrets"]
