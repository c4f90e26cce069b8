# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacement for ansible-test's pip bootstrap script (get-pip.py) on machines that cannot reach its download host.

ansible-test runs this file in a new virtual environment without pip, with get-pip's command line, and with pip's
configuration files disabled (PIP_CONFIG_FILE=/dev/null). It bootstraps the pip bundled with Python (ensurepip), then
installs the requested pip from the package index, trusting the system's CA bundle (the one OpenSSL uses by default),
so that it also works behind a TLS-inspecting proxy. Newer pip trusts the system store by itself.
The quality tests place this file at ansible-test's cache path, ~/.ansible/test/cache/get_pip_<version>.py.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ensurepip
import os
import ssl
import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ("--no-setuptools", "--no-wheel")


def main():
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    ca_file = ssl.get_default_verify_paths().openssl_cafile
    if ca_file and os.path.exists(ca_file):
        args = ["--cert", ca_file] + args
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))


if __name__ == "__main__":
    main()
