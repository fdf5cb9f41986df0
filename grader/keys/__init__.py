"""Answer keys and the tools around them, for the instructor.

`build` computes a key from a problem set (with torch) and reads and writes it;
`catalog` says which assignments can be graded and gives their graders (committed keys
first, problem sets imported lazily); `check` is `grader key check` (staleness and a
self-test of every part on its model answers); `solution_sheet` and `template` render a
key for instructors and an answer file for students.
"""
