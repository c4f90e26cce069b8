"""The gateway fixtures live in gateway_fixtures.py, so the upgrade scenario's tests can load the same ones."""

from gateway_fixtures import check_mode_run, credentials_dir, curl, gw, main_pid, molecule_config, secrets

# pytest finds fixtures by name in this module.
__all__ = ["check_mode_run", "credentials_dir", "curl", "gw", "main_pid", "molecule_config", "secrets"]
