"""Public coding standards the registry data follows (see docs/registries.md)."""
