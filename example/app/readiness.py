"""Readiness of this worker: not ready while starting up or draining."""

from enum import StrEnum


class Phase(StrEnum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


class Readiness:
    """The lifespan moves it starting -> ready -> draining; /readyz reports it."""

    def __init__(self) -> None:
        self.phase = Phase.STARTING

    def ready(self) -> None:
        self.phase = Phase.READY

    def drain(self) -> None:
        self.phase = Phase.DRAINING

    @property
    def is_ready(self) -> bool:
        return self.phase is Phase.READY
