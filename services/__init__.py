"""The service around the pure domain: application, adapters and entry points."""
