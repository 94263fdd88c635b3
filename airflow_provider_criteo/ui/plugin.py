"""The Airflow plugin of the Criteo view: its app in the API server and its page in the navigation.

Airflow imports plugins in many of its processes (a task's among them); the app and what it imports
(Airflow's API server modules) are loaded on the view's first request only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_criteo.ui.links import URL_PREFIX

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Message = MutableMapping[str, Any]


class LazyApp:
    """An ASGI app that builds the view's FastAPI app when it first serves a request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if self._app is None:
            from airflow_provider_criteo.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class CriteoPlugin(AirflowPlugin):
    """The Criteo view: the audiences the exports manage, under Browse in the Airflow UI."""

    name = "criteo"
    # Class attributes, as AirflowPlugin declares them.
    fastapi_apps: list[Any] = [  # noqa: RUF012
        {"app": LazyApp(), "url_prefix": URL_PREFIX, "name": "Criteo audiences"}
    ]
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Criteo audiences",
            "href": f"{URL_PREFIX}/",
            "url_route": "criteo",
            "category": "browse",
            "destination": "nav",
        }
    ]
