"""`python -m grader`: the same CLI as the `grader` command (Gradescope's run_autograder uses it,
since the autograder zip ships the package as source rather than installing a console script)."""

from grader.cli import app

if __name__ == "__main__":
    app(prog_name="grader")
