"""W3C trace context of inbound messages: into the logs of their batch, and onto an
OpenTelemetry span when the SDK is installed (the ``otel`` extra); a no-op otherwise.

A batch stores many messages, each possibly from another trace, so its span is not the
child of any of them: it links to every one (OpenTelemetry's messaging conventions for
batch processing). The decisions a message causes carry its ``traceparent`` themselves
(stored with the decision, published as a NATS header), so a trace follows an event
to its decisions whatever the span does.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol

import orjson

__all__ = ["TRACEPARENT", "batch_span", "configure_tracing", "trace_ids", "traceparents"]

TRACEPARENT = "traceparent"
# The CloudEvents NATS binding's binary mode carries extension attributes as ce- headers.
_HEADERS = (TRACEPARENT, f"ce-{TRACEPARENT}")
# version-traceid-parentid-flags; an all-zero trace id is invalid (W3C Trace Context §3.2).
_W3C = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
# More would make one log line of a 500-message batch very long; the span links them all.
MAX_LOGGED = 50


class Message(Protocol):
    @property
    def data(self) -> bytes: ...
    @property
    def headers(self) -> Mapping[str, str] | None: ...


def traceparents(messages: Iterable[Message]) -> list[str]:
    """Each message's ``traceparent``: a NATS header, a binary-mode ``ce-`` header, or the
    structured event's extension attribute (parsed only when the bytes name it)."""
    found = []
    for message in messages:
        headers = message.headers or {}
        value = next((headers[h] for h in _HEADERS if h in headers), None)
        if value is None and b'"traceparent"' in message.data:
            with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                value = orjson.loads(message.data).get(TRACEPARENT)
        if isinstance(value, str) and _W3C.match(value.strip().lower()):
            found.append(value.strip().lower())
    return found


def trace_ids(parents: Iterable[str]) -> list[str]:
    """The distinct trace ids of ``parents``, in order of first appearance, at most 50."""
    ids: dict[str, None] = {}
    for parent in parents:
        match = _W3C.match(parent)
        if match and match["trace"] != "0" * 32:
            ids.setdefault(match["trace"])
    return list(ids)[:MAX_LOGGED]


def batch_span(name: str, parents: Iterable[str], **attributes: Any) -> Any:
    """A span around a batch, linked to each message's trace; nothing without the SDK."""
    tracer = _tracer()
    if tracer is None:
        return contextlib.nullcontext()
    return _span(tracer, name, list(parents), attributes)


def configure_tracing(**resource: str) -> bool:
    """With the SDK installed and no provider set yet (``opentelemetry-instrument`` may have
    set one): a provider naming this service, exporting over OTLP when an endpoint is
    configured (``OTEL_EXPORTER_OTLP_ENDPOINT``; the ``opentelemetry-exporter-otlp``
    package) or to stderr when ``OTEL_TRACES_EXPORTER=console``. True if spans go out."""
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            ConsoleSpanExporter,
            SpanExporter,
        )
    except ImportError:
        return False
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        _tracer.cache_clear()
        return True  # configured already, by whoever runs us
    exporter: SpanExporter | None = None
    if os.environ.get("OTEL_TRACES_EXPORTER") == "console":
        exporter = ConsoleSpanExporter()
    elif any(k in os.environ for k in _OTLP_ENDPOINTS):
        with contextlib.suppress(ImportError):
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
    if exporter is None:
        return False
    provider = TracerProvider(resource=Resource.create(resource))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _tracer.cache_clear()
    return True


_OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _load_tracer() -> Any:
    try:
        from opentelemetry import trace
    except ImportError:
        return None
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None  # the API alone, or the SDK not set up: spans would go nowhere
    from services import __version__

    return trace.get_tracer("learner-records", __version__)


_tracer = functools.cache(_load_tracer)


@contextlib.contextmanager
def _span(tracer: Any, name: str, parents: list[str], attributes: dict[str, Any]) -> Iterator[Any]:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    propagator = TraceContextTextMapPropagator()
    links = []
    for parent in parents:
        context = trace.get_current_span(propagator.extract({TRACEPARENT: parent}))
        span_context = context.get_span_context()
        if span_context.is_valid:
            links.append(trace.Link(span_context))
    with tracer.start_as_current_span(
        name, kind=trace.SpanKind.CONSUMER, links=links, attributes=attributes
    ) as span:
        yield span
