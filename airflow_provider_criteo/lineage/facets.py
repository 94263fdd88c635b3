"""OpenLineage datasets and facets of the provider. Imports OpenLineage: import it only when installed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attr
from openlineage.client.generated.base import DatasetFacet, InputDataset, OutputDataset
from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from openlineage.client.generated.base import Dataset

#: Where the JSON schemas of the provider's facets are published (``docs/openlineage/``).
SCHEMAS = "https://github.com/airflow-provider-criteo/airflow-provider-criteo/blob/main/docs/openlineage"


@attr.define
class IdentifierCountsFacet(DatasetFacet):
    """Identifiers per type (``email``, ``phoneNumber``, ...) of an audience: counts only. Each kind's
    JSON schema is ``docs/openlineage/<class name>.json``."""

    identifierTypes: dict[str, int] = attr.field(factory=dict)  # OpenLineage names fields in camelCase

    @classmethod
    def _get_schema(cls) -> str:
        return f"{SCHEMAS}/{cls.__name__}.json#/$defs/{cls.__name__}"


class CriteoAudienceDatasetFacet(IdentifierCountsFacet):
    """An audience after an export: its members per identifier type."""


class CriteoErasureDatasetFacet(IdentifierCountsFacet):
    """An audience an erasure removed people from: the identifiers it was asked to remove, per type."""


#: The facet of each kind of output, by the key it is reported under.
FACETS = {"criteoAudience": CriteoAudienceDatasetFacet, "criteoErasure": CriteoErasureDatasetFacet}


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


def audience_output(
    namespace: str, name: str, facet: str, identifier_counts: Mapping[str, int]
) -> OutputDataset:
    """One audience written, with ``facet`` (a key of :data:`FACETS`) counting identifiers per type."""
    return OutputDataset(
        namespace=namespace, name=name, facets={facet: FACETS[facet](identifierTypes=dict(identifier_counts))}
    )
