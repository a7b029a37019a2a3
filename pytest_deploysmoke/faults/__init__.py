"""Rehearse a bad deploy: a mitmproxy addon that injects faults between a suite and its service.

``rules`` reads the rules files (standard library only), ``addon`` is what mitmdump loads, and
``proxy`` is the command line (``python -m pytest_deploysmoke.faults``).  See docs/rehearse.md.
"""
