"""Entry points: the wiring of the service and the command line."""
