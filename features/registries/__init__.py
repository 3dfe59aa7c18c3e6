"""Registry extracts: their data contract, reading, validation and quarantine."""

from features.registries.schema import REGISTRIES, TABLES, Column, Table
from features.registries.validate import RegistryCheck, TableCheck, check_registry, write_quarantine

__all__ = [
    "REGISTRIES",
    "TABLES",
    "Column",
    "RegistryCheck",
    "Table",
    "TableCheck",
    "check_registry",
    "write_quarantine",
]
