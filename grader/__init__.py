"""grader: an automated homework grader for deep-learning courses.

Data flow, one module each: submission (read) -> parsing (parse) -> kinds (check) ->
scoring (score) -> report (write).
"""

__version__ = "0.1.0"
