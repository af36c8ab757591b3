"""Use cases: the learner-records application and the loops that follow its log."""
