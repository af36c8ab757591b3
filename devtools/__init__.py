"""Developer tools: load generation, sample learners, contract generators. Not shipped."""
