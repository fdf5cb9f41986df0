"""What course staff do after a run: manual scores and overrides, regrades, and refreshing
a run's files when either changes. Commands over these live in `grader.cli`."""
