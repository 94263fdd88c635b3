"""What an export is told to do: which segment goes to which audience, and its safety settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from airflow_provider_criteo.defaults import (
    DEFAULT_MAX_AUDIENCES,
    DEFAULT_MAX_PROFILES,
    DEFAULT_MIN_AUDIENCE_SIZE,
)
from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.sync.modes import SyncMode, SyncPolicy, check_sync_mode


@dataclass(frozen=True)
class ExportOptions:
    """What to export where, and the safety settings (see the operator's parameters).

    :raises CriteoConfigurationError: for a sync mode or ``dry_run`` that is not one (they may come
        from rendered templates).
    """

    segment: str
    sync_mode: str = SyncMode.MIRROR.value
    dry_run: bool = False
    audience_name: str | None = None
    audience_description: str | None = None
    advertiser_id: str | None = None
    adopt_existing_audience: bool = False
    max_profiles: int | None = DEFAULT_MAX_PROFILES
    min_audience_size: int = DEFAULT_MIN_AUDIENCE_SIZE
    max_audiences: int = DEFAULT_MAX_AUDIENCES
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    history_table: str | None = None
    history_conn_id: str | None = None

    @property
    def target_name(self) -> str:
        """The audience's name: ``audience_name``, else the segment's."""
        return self.name_of(self.audience_name, self.segment)

    @staticmethod
    def name_of(audience_name: str | None, segment: str) -> str:
        """The name of the audience of ``segment``: ``audience_name`` when given."""
        return audience_name or segment

    def __post_init__(self) -> None:
        check_sync_mode(self.sync_mode)
        if not isinstance(self.dry_run, bool):
            raise CriteoConfigurationError(
                f"dry_run must be true or false, not {self.dry_run!r}; when it comes from a template, set "
                "render_template_as_native_obj=True on the DAG."
            )
