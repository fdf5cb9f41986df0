"""`grader serve`: the grading service. Students check answers as they type and submit on a
web page (or through the JSON API); staff watch the class and grade by hand in the browser.

    courseware.py   the course as the service sees it, over the one engine (grader.run.grading)
    identity.py     tokens, the session cookie, CSRF, who may see what
    limits.py       request-body cap and per-student rate limits
    overview.py     the staff's class overview data (statistics per part)
    app.py          the FastAPI application: the JSON API (docs/service.md) and the pages
"""
