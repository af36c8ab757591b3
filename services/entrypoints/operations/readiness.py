"""Is this replica doing its share? Each check says what is and is not so, in words.

Ready means: connected to NATS; the store answers (the probe's last query) and no
partition's worker is failing on it; every role this replica should hold by the
replicas' own rule (rendezvous hashing over the live members) is held, each partition's
worker bound to its consumer; the followers held here (relay, projection) not failing;
the leases renewable. A replica not ready still works where it can: the answer is for a
load balancer, an orchestrator or a person, and changes nothing by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from services.application.ownership import preferred_owner

if TYPE_CHECKING:
    from services.entrypoints.app import RecordsService

__all__ = ["Check", "Readiness", "assess"]

# The probe's figures older than this many intervals: the store has stopped answering it.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Readiness:
    checks: dict[str, Check] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks.values())

    def to_json(self, **extra: Any) -> dict[str, Any]:
        return {
            "ready": self.ready,
            **extra,
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in self.checks.items()},
        }


def assess(service: RecordsService | None, waiting: str | None = None) -> Readiness:
    """The checks of ``service``; None: not started yet, for the reason ``waiting``."""
    if service is None:
        return Readiness({"started": Check(False, waiting or "starting")})
    return Readiness(
        {
            "nats": _nats(service),
            "store": _store(service),
            "roles": _roles(service),
            "followers": _followers(service),
        }
    )


def _nats(service: RecordsService) -> Check:
    nc = service.nc
    if nc is None:
        return Check(False, "not connected yet: waiting for NATS")
    if not nc.is_connected:
        return Check(False, "disconnected: reconnecting")
    ownership = service.ownership
    if ownership is not None and ownership.last_tick_error is not None:
        return Check(False, f"leases cannot be renewed: {ownership.last_tick_error}")
    url = nc.connected_url.geturl() if nc.connected_url else ""
    return Check(True, f"connected to {_without_password(url)}")


def _store(service: RecordsService) -> Check:
    failing = {k: w.store_failing for k, w in service.workers.items() if w.store_failing}
    if failing:
        parts = ", ".join(f"partition {k}: {error}" for k, error in sorted(failing.items()))
        return Check(False, f"failing: {parts}")
    probe = service.probe
    latest = probe.latest if probe is not None else None
    if probe is None or latest is None:
        return Check(False, "not checked yet")
    if latest.store_error is not None:
        return Check(False, f"unreachable: {latest.store_error}")
    if latest.age() > STALE_AFTER_INTERVALS * probe.every:
        return Check(False, f"no answer for {latest.age():.0f}s")
    return Check(True, f"answering (last position {latest.store_position})")


def _roles(service: RecordsService) -> Check:
    ownership = service.ownership
    if ownership is None:
        return Check(False, "not started")
    wanted = [
        name
        for name in ownership.roles
        if preferred_owner(name, ownership.members) == ownership.owner
    ]
    missing = [name for name in wanted if not _running(service, name)]
    held = sorted(name for name in ownership.roles if ownership.holds(name))
    summary = f"{len(ownership.members)} replica(s); holds {', '.join(held) or 'nothing'}"
    if missing:
        return Check(False, f"{summary}; should hold but does not yet: {', '.join(missing)}")
    return Check(True, summary)


def _running(service: RecordsService, role: str) -> bool:
    ownership = service.ownership
    if ownership is None or not ownership.holds(role):
        return False
    if role.startswith("partition-"):
        worker = service.workers.get(int(role.removeprefix("partition-")))
        return worker is not None and worker.opened
    return True


def _followers(service: RecordsService) -> Check:
    failing = []
    for name, follower in (("relay", service.relay), ("projection", service.projection)):
        if follower is not None and follower.failing:
            failing.append(f"{name} failing ({follower.failures} times): {follower.last_error}")
    if failing:
        return Check(False, "; ".join(failing))
    here = [n for n, f in (("relay", service.relay), ("projection", service.projection)) if f]
    return Check(True, f"not failing ({', '.join(here) or 'none'} here)")


def _without_password(url: str) -> str:
    from services.adapters.redaction import redact

    return redact(url)
