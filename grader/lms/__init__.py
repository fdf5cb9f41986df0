"""Learning-management systems: gradebook exports and the Gradescope autograder.

`exports` is the table of gradebook formats (canvas, moodle, csv, lti, json), one module each
beside it; `roster` maps our student ids to LMS ids and `comment` writes the short summary
LMS comment fields hold. `gradescope/` grades one submission inside Gradescope's container
(`driver`, with Gradescope's results.json in `results`) and builds the zip to upload (`package`).
"""
