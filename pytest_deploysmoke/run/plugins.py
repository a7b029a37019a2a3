"""Plugin objects that live for one run: registered only when a target is selected, gone with the config.

Like pytest's ``LogXML`` (registered with ``--junitxml``, unregistered at unconfigure), each
object that carries runtime hooks is registered here and unregistered when the config is
cleaned up, so an in-process ``pytest.main`` after a deploy run starts from a clean plugin manager.
"""

from __future__ import annotations

import pytest


def register(config: pytest.Config, plugin: object, name: str) -> None:
    """Register *plugin* under *name* for this run; it is unregistered when *config* is cleaned up."""
    config.pluginmanager.register(plugin, name)
    config.add_cleanup(lambda: _unregister(config, plugin))


def _unregister(config: pytest.Config, plugin: object) -> None:
    if config.pluginmanager.is_registered(plugin):
        config.pluginmanager.unregister(plugin)
