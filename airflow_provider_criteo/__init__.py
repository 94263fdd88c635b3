"""Apache Airflow provider that exports customer segments from a SQL warehouse to Criteo audiences."""

from __future__ import annotations

__version__ = "0.1.0"
