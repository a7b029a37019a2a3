"""Importing the plugin stays light: no client library is loaded at start-up."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_plugin_imports_no_client_library() -> None:
    """Loading the plugin and its fixtures (as pytest does at start-up) imports no client library, nor the
    modules the checks use only when they run."""
    code = (
        "import sys, pytest_deploysmoke.plugin\n"
        "import pytest_deploysmoke.fixtures\n"
        "heavy = [m for m in ('httpx', 'psycopg', 'redis', 'websockets', 'jsonschema', 'playwright',\n"
        "                     'pytest_deploysmoke.expect', 'pytest_deploysmoke.clients.network') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
