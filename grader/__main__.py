"""`python -m grader`: the same CLI as the `grader` command (Gradescope's run_autograder uses it,
since the autograder zip ships the package as source rather than installing a console script).
`python -m grader gradescope ...`, once per Gradescope submission, imports that command alone
(grader.cli.main)."""

if __name__ == "__main__":
    from grader.cli.main import main

    main()
