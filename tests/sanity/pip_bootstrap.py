# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacement for ansible-test's pip bootstrap script (get-pip.py) on machines that cannot reach its download host.

ansible-test runs this file in a new virtual environment without pip, with get-pip's command line, and with pip's
configuration files disabled (PIP_CONFIG_FILE=/dev/null). It bootstraps the pip bundled with Python (ensurepip), then
installs the requested pip from the package index, trusting the system's CA bundle (the one OpenSSL uses by default),
so that it also works behind a TLS-inspecting proxy. Newer pip trusts the system store by itself.
Debian and Ubuntu ship ensurepip separately (python3-venv); without it, pip runs from a pip wheel placed beside this file.
The core version tests (tests/quality/test_core_versions.py) place this file at ansible-test's cache path,
~/.ansible/test/cache/get_pip_<version>.py, with that wheel.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import ssl
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def pip_command():
    """How to run pip in this (new, pip-less) environment."""
    try:
        import ensurepip
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        wheels = sorted(glob.glob(os.path.join(here, "pip-*.whl")))
        if not wheels:
            sys.exit("No ensurepip in %s and no pip-*.whl in %s" % (sys.executable, here))
        return [sys.executable, os.path.join(wheels[-1], "pip")]  # pip runs from its wheel
    ensurepip.bootstrap(upgrade=True)
    return [sys.executable, "-m", "pip"]


def main():
    pip = pip_command()
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    ca_file = ssl.get_default_verify_paths().openssl_cafile
    if ca_file and os.path.exists(ca_file):
        args = ["--cert", ca_file] + args
    sys.exit(subprocess.call(pip + ["install"] + args))


if __name__ == "__main__":
    main()
