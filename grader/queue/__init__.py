"""Grading on workers that scale past one machine: Celery over Redis (or RabbitMQ).

`grader serve --broker URL` turns each submission into a job (a row of `grading_jobs`,
grader.store.jobs) and sends only its id; `grader worker` runs a Celery worker whose processes
claim the job with a lease, grade it through the course's one engine and record the report once.

    app.py        the Celery app from the course's settings (why Celery; every setting and why)
    limits.py     soft and hard time limits of a task, from the assignment's parts and budget
    tasks.py      the one task: claim, keep the lease, grade, record; time limits fail the job
    dispatch.py   sending a job's id (the service's Dispatcher); how many messages wait
    sweeper.py    in every worker: re-queue jobs whose lease ran out, re-send lost ones
    worker.py     starting a worker (`grader worker`)

Without a broker nothing here is imported: the service grades in its own pool, as before.
"""
