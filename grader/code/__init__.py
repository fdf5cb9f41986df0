"""Code questions: reading student code (notebook), running it in the sandbox (harness), and
judging what comes back against references and named mistakes computed by the grader (spec, check)."""
