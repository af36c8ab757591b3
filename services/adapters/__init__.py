"""Adapters to the world outside: the event store, NATS, catalogue files."""
