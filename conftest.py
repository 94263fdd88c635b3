"""Isolate the test session from any real Airflow installation before Airflow is imported."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).parent
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="criteo-provider-tests-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "tests" / "dags")
# dag.test() runs DAGs of configured bundles: the test DAGs (the dags folder) and the example DAGs.
os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
    [
        {"name": "dags-folder", "classpath": LOCAL_BUNDLE, "kwargs": {}},
        {"name": "example-dags", "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(ROOT / "example_dags")}},
    ]
)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
# The example DAGs' shared module, importable as Airflow makes it importable for DAGs of a bundle.
sys.path.append(str(ROOT / "example_dags"))


def _hypothesis_without_timing() -> None:
    """Tests check behaviour, never wall-clock time: nor Hypothesis's deadline and slowness checks."""
    from hypothesis import HealthCheck, settings

    settings.register_profile("behaviour", deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("behaviour")


_hypothesis_without_timing()
