"""A run directory and its record: layout, results schema, atomic I/O, lifecycle, provenance."""
