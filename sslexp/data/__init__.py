"""Data sets behind one registry: each gives a pool, a test split and class names."""

from sslexp.data.registry import (
    Dataset,
    DatasetSource,
    available_sources,
    load_dataset,
    resolve_source,
)

__all__ = ["Dataset", "DatasetSource", "available_sources", "load_dataset", "resolve_source"]
