"""Load probe: virtual users for a bounded time, on the built-in asyncio engine or on Locust.

The ``load_probe`` fixture imports this module when a check first calls it.  The built-in engine
(asyncio and aiohttp in a fresh thread) measures its own CPU and event-loop lag while it runs, so
a figure the client limited is flagged as the client's, never reported as the server's.  The
Locust engine runs Locust in subprocesses (its gevent monkey-patching never enters pytest), from
a locustfile generated from the scenario, and reads back the final statistics that locustfile writes.
Both keep each endpoint's distribution beside the whole run's figures.
"""
