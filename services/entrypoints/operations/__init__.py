"""What operators see of a running replica: health, readiness, metrics, over HTTP.

``serve --http HOST:PORT`` serves them (services.entrypoints.operations.http); the
figures come from services.entrypoints.operations.metrics and .probe, the verdicts from
.readiness.
"""
