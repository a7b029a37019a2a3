"""``python -m pytest_deploysmoke.faults``: the rehearsal proxy (see proxy.py)."""

from __future__ import annotations

import sys

from pytest_deploysmoke.faults.proxy import main

sys.exit(main())
