"""One module per schema revision, chained by down_revision (grader.store.migrate.HEAD_REVISION is the newest)."""
