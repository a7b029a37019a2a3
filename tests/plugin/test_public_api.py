"""The public API: every name in __all__ resolves, and importing the package stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest_deploysmoke


def test_every_public_name_resolves() -> None:
    """Each name in pytest_deploysmoke.__all__ can be read from the package."""
    missing = [name for name in pytest_deploysmoke.__all__ if getattr(pytest_deploysmoke, name, None) is None]
    assert missing == []


def test_importing_the_plugin_imports_no_client_library() -> None:
    """Loading the plugin and its fixtures (as pytest does at start-up) imports no client library, nor the
    modules the checks use only when they run."""
    code = (
        "import sys, pytest_deploysmoke.plugin\n"
        "import pytest_deploysmoke.fixtures\n"
        "heavy = [m for m in ('httpx', 'psycopg', 'redis', 'websockets', 'jsonschema', 'playwright',\n"
        "                     'pytest_deploysmoke.expect', 'pytest_deploysmoke.clients.failures') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
