"""Commands only a source checkout has: loadgen and demo."""
