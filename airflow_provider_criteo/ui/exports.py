"""The exports the view shows, read from Airflow's metadata database: each export task instance's record
(pushed as it starts), its state, and its summary (its return value, once it finished).

Nothing here is personal data: records and summaries hold names, ids and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.ui.chart import Series, as_fraction
from airflow_provider_criteo.ui.links import EXPORT_XCOM_KEY, export_path

if TYPE_CHECKING:
    import datetime
    from collections.abc import Collection, Iterable

    from sqlalchemy.orm import Session

#: The tries of each export task the view reads: its chart's exports.
CHART_RUNS = 30
#: A bound on the rows read in all (export tasks times their tries).
MAX_EXPORTS = 50_000


@dataclass(frozen=True)
class Export:
    """One export task instance: what it exported where, how it ended, and its summary when it has one."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    when: datetime.datetime | None
    record: dict[str, Any]
    summary: dict[str, Any] | None = None

    @property
    def advertiser_id(self) -> str:
        """The advertiser whose audience it is."""
        return str(self.record.get("advertiser_id") or "")

    @property
    def audience_name(self) -> str:
        """The audience's name."""
        return str(self.record.get("audience_name") or "")

    @property
    def dry_run(self) -> bool:
        """Whether it only said what it would do."""
        return bool(self.record.get("dry_run"))

    @property
    def path(self) -> str:
        """Its page in the view."""
        return export_path(self.dag_id, self.run_id, self.task_id, self.map_index)

    def get(self, name: str) -> Any:
        """A value of its summary (None until it returned one)."""
        return (self.summary or {}).get(name)

    @property
    def match_rate(self) -> float | None:
        """Criteo's match rate after it, as a fraction."""
        rate = self.get("match_rate")
        return None if rate is None else as_fraction(float(rate))


@dataclass
class Audience:
    """One audience of one advertiser, with its exports, newest first."""

    advertiser_id: str
    name: str
    exports: list[Export] = field(default_factory=list)

    @property
    def last(self) -> Export:
        """Its most recent export (dry runs included: they are runs a user looks for)."""
        return self.exports[0]

    @property
    def audience_id(self) -> str | None:
        """Criteo's id of the audience, from the latest summary that has one."""
        return next((str(e.get("audience_id")) for e in self.exports if e.get("audience_id")), None)

    def series(self, runs: int = CHART_RUNS) -> Series:
        """Its size and match rate over its last ``runs`` exports that sent something, oldest first."""
        sent = [e for e in self.exports if e.summary and e.when and not e.dry_run][:runs][::-1]
        return Series(
            self.name,
            [e.get("audience_size") for e in sent],
            [e.match_rate for e in sent],
            [e.when for e in sent if e.when],
        )


def exported_dags(session: Session) -> set[str]:
    """The DAGs that ran an export (the view asks the auth manager about these only)."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    return set(session.scalars(select(XComModel.dag_id).where(XComModel.key == EXPORT_XCOM_KEY).distinct()))


def read_exports(
    session: Session,
    dag_ids: Collection[str],
    *,
    runs: int = CHART_RUNS,
    task: tuple[str, str, str, int] | None = None,
) -> list[Export]:
    """The last ``runs`` tries of every export task (DAG, task, map index) of ``dag_ids``, with their
    summaries, newest first; with ``task``, only that task instance.

    Every export task has its rows, however often the others run. Values are read from the metadata
    database, as Airflow's API server reads XComs.
    """
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import and_, func, select
    from sqlalchemy.orm import aliased

    if not dag_ids:
        return []
    slot = (XComModel.dag_id, XComModel.task_id, XComModel.map_index)
    marked = select(
        XComModel,
        func.row_number().over(partition_by=slot, order_by=XComModel.timestamp.desc()).label("rank"),
    ).where(XComModel.key == EXPORT_XCOM_KEY, XComModel.dag_id.in_(list(dag_ids)))
    if task is not None:
        columns = (XComModel.dag_id, XComModel.run_id, XComModel.task_id, XComModel.map_index)
        marked = marked.where(*(column == value for column, value in zip(columns, task, strict=True)))
    ranked = marked.subquery()
    record = aliased(XComModel, ranked)
    same_task = and_(
        TaskInstance.dag_id == record.dag_id,
        TaskInstance.run_id == record.run_id,
        TaskInstance.task_id == record.task_id,
        TaskInstance.map_index == record.map_index,
    )
    rows = session.execute(
        select(record, TaskInstance.state, TaskInstance.end_date, TaskInstance.start_date)
        .join(TaskInstance, same_task)
        .where(ranked.c.rank <= runs)
        .order_by(record.timestamp.desc())
        .limit(MAX_EXPORTS)
    ).all()
    summaries = _summaries(session, [xcom for xcom, *_ in rows])
    exports = [
        Export(
            *_task_of(xcom),
            state=None if state is None else str(state),
            when=ended or started or xcom.timestamp,
            record=_as_dict(XComModel.deserialize_value(xcom)),
            summary=_as_dict(summaries.get(_task_of(xcom))) or None,
        )
        for xcom, state, ended, started in rows
    ]
    # A custom XCom backend that keeps values elsewhere leaves only references in the database, which
    # Airflow's API server does not resolve either: such exports cannot be shown.
    return [export for export in exports if export.audience_name]


def _summaries(session: Session, records: list[Any]) -> dict[tuple[str, str, str, int], Any]:
    """The return values of the task instances of ``records``."""
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    runs = {xcom.dag_run_id for xcom in records}
    tasks = {xcom.task_id for xcom in records}
    returned = select(XComModel).where(
        XComModel.key == "return_value", XComModel.dag_run_id.in_(runs), XComModel.task_id.in_(tasks)
    )
    return {_task_of(xcom): XComModel.deserialize_value(xcom) for xcom in session.scalars(returned)}


def _task_of(xcom: Any) -> tuple[str, str, str, int]:
    """The task instance an XCom belongs to."""
    return xcom.dag_id, xcom.run_id, xcom.task_id, xcom.map_index


def _as_dict(value: Any) -> dict[str, Any]:
    """A record or summary as a dict; anything else (a value some other task pushed) as empty."""
    return value if isinstance(value, dict) else {}


def audiences_of(exports: Iterable[Export]) -> list[Audience]:
    """The exports grouped by advertiser and audience, in that order, each with its exports newest first."""
    grouped: dict[tuple[str, str], Audience] = {}
    for export in exports:
        key = (export.advertiser_id, export.audience_name)
        grouped.setdefault(key, Audience(*key)).exports.append(export)
    for audience in grouped.values():
        audience.exports.sort(key=lambda e: (e.when is not None, e.when), reverse=True)
    return [grouped[key] for key in sorted(grouped)]
