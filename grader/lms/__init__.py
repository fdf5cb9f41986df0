"""Learning-management-system integrations: run inside an LMS autograder, package for upload.

`gradescope` grades one submission inside Gradescope's container and writes its results.json;
`package` builds the autograder zip an instructor uploads; `commands` registers both on the CLI.
"""
