"""`python -m grader`: the same CLI as the `grader` command (Gradescope's run_autograder uses it,
since the autograder zip ships the package as source rather than installing a console script).
`python -m grader gradescope ...`, once per Gradescope submission, imports that command alone."""

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["gradescope"]:
        from grader.cli.gradescope import run_alone

        run_alone(sys.argv[2:])
    else:
        from grader.cli import app

        app(prog_name="grader")
