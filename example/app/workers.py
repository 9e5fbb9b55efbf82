"""The gunicorn worker class: uvicorn's, with its access log off (the app writes its own access line)."""

from typing import Any

from uvicorn_worker import UvicornWorker  # pyright: ignore[reportMissingTypeStubs]


class Worker(UvicornWorker):
    # uvloop and httptools when installed ("auto"); no uvicorn access line, which would duplicate ours
    # without the request id and cost a logging call per request. Not a ClassVar: the base class
    # declares it as a plain class attribute.
    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": "auto", "access_log": False}  # noqa: RUF012
