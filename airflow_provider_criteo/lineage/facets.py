"""OpenLineage datasets and facets of the provider. Imports OpenLineage: import it only when installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attr
from openlineage.client.generated.base import DatasetFacet, InputDataset, OutputDataset
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet
from openlineage.client.generated.output_statistics_output_dataset import OutputStatisticsOutputDatasetFacet

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from openlineage.client.generated.base import Dataset

SCHEMA_URL = (
    "https://github.com/airflow-provider-criteo/airflow-provider-criteo/blob/main/README.md#openlineage"
)


@attr.define
class CriteoAudienceDatasetFacet(DatasetFacet):
    """A Criteo audience's identifiers per type (``email``, ``phoneNumber``, ...): counts only."""

    identifierTypes: dict[str, int] = attr.field(factory=dict)  # OpenLineage names fields in camelCase

    @staticmethod
    def _get_schema() -> str:
        return SCHEMA_URL


def counted_inputs(inputs: Sequence[Dataset], rows_read: int | None) -> list[InputDataset]:
    """The tables read, as input datasets; the rows read counted on the one table, when it is one."""
    counted = rows_read is not None and len(inputs) == 1
    return [
        InputDataset(
            namespace=table.namespace,
            name=table.name,
            facets=table.facets,
            inputFacets={"inputStatistics": InputStatisticsInputDatasetFacet(rowCount=rows_read)}
            if counted
            else {},
        )
        for table in inputs
    ]


def audience_output(namespace: str, name: str, identifier_counts: Mapping[str, int]) -> OutputDataset:
    """One audience written, with how many identifiers of each type the task had for it."""
    return OutputDataset(
        namespace=namespace,
        name=name,
        facets={"criteoAudience": CriteoAudienceDatasetFacet(identifierTypes=dict(identifier_counts))},
        outputFacets={
            "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=sum(identifier_counts.values()))
        },
    )
