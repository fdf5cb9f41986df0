"""Running the engine over many submissions: the batch, the worker pool and the run's files.

`batch` finds and grades a class (`grade_class` yields outcomes and writes nothing);
`pool` grades submissions in killable worker processes under a per-part budget (`worker`
is their side, `cache` remembers verdicts on identical answers, `guard` holds the per-part
limits); `writer` writes a run's files (reports, gradebooks, summaries, run.json).
"""
