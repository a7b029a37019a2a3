"""The root of the plugin's own tests: load every plugin module up front, and the fixture plugins.

The fixtures live in ``fix_*.py`` modules (as psycopg's tests keep theirs), loaded here through
``pytest_plugins``: the loopback servers (fix_servers), the real PostgreSQL and Redis (fix_services),
the JWT API stand-in (fix_api), the logins stand-in (fix_logins), pytester projects (fix_pytester)
the example suites (fix_examples) and the fault-injecting proxy (fix_proxy).
No test module imports another test module or a conftest.
"""

from __future__ import annotations

import importlib
import pkgutil

import aiohttp  # noqa: F401
import httpcore  # noqa: F401
import httpx  # noqa: F401
import psycopg  # noqa: F401
import redis  # noqa: F401
import scipy.stats  # noqa: F401  (a comparison's tests: numpy and scipy cannot be loaded twice in one process)
import uvicorn  # noqa: F401

import pytest_deploysmoke
from pytest_deploysmoke.reports import charts

# Import every plugin module and client library up front.  pytester's in-process runs drop
# the modules first imported inside them, and the plugin imports most modules lazily; a
# module loaded again in a later run would hold new StashKeys (or new exception classes)
# while the objects already handed out still point at the old module.
for _module in pkgutil.walk_packages(pytest_deploysmoke.__path__, "pytest_deploysmoke."):
    if not _module.name.endswith(".__main__"):  # a command line, run only as one
        importlib.import_module(_module.name)

# pygal too, which the HTML report's charts import: it imports importlib_metadata, which on
# import turns off the standard library's finder of installed distributions and puts its own
# on sys.meta_path; pytester puts sys.meta_path back after each run, so imported inside a run
# it would leave the later runs finding no plugin at all (no --deploy-target, no --html).
charts.import_pygal()

pytest_plugins = [
    "tests.fix_servers",
    "tests.fix_services",
    "tests.fix_api",
    "tests.fix_logins",
    "tests.fix_pytester",
    "tests.fix_examples",
    "tests.fix_proxy",
]
