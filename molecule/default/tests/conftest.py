"""The gateway fixtures live in gateway_fixtures.py, so the upgrade scenario's tests can load the same ones."""

from gateway_fixtures import *  # noqa: F403 - pytest finds fixtures by name in this module
