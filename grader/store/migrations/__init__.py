"""The grade store's Alembic migrations (env.py, versions/): see grader.store.migrate."""
