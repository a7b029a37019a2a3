"""Configuration: the typed model of a deploy target, its parser and the resolved run settings."""
