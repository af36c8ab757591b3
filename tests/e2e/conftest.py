"""Fixtures for the end-to-end tests: the service as a process, a nats-server they own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ServiceProcess
from nats.js import JetStreamContext

from domain.catalogue import Catalogue
from services.adapters.catalogue_files import load_catalogue


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    started: list[ServiceProcess] = []

    def make(nats_url: str | None, extra: Sequence[str] = (), **options: Any) -> ServiceProcess:
        service = ServiceProcess(tmp_path, nats_url, extra, **options)
        started.append(service)
        return service

    yield make
    for service in started:
        if service.process is not None and service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


@pytest.fixture
def service(nats_server: Any, service_factory: Callable[..., ServiceProcess]) -> ServiceProcess:
    running = service_factory(nats_server.url)
    running.start()
    return running


@pytest.fixture
async def js_client(nats_client: Any) -> AsyncIterator[JetStreamContext]:
    yield nats_client.jetstream()
