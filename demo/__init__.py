"""The one-command demo (``scripts/demo``) and the Airflow set-up it shares with ``scripts/standalone``
and the browser tests of the Airflow UI. Not part of the provider package.

Importing it puts ``example_dags/`` on ``sys.path``, as Airflow does for its dags folder, so the example
DAGs' shared module ``criteo_examples`` is importable.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_DAGS = REPO / "example_dags"

if str(EXAMPLE_DAGS) not in sys.path:
    sys.path.append(str(EXAMPLE_DAGS))
