"""NATS and JetStream: connection, streams, consumers, the embedded server."""
