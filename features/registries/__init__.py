"""Registry extracts: their data contract, reading, validation and quarantine."""

from features.registries.schema import REGISTRIES, TABLES, Column, Table

__all__ = ["REGISTRIES", "TABLES", "Column", "Table"]
