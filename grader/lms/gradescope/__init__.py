"""Gradescope: `driver` grades one upload inside the autograder container and always writes
results.json (modelled in `results`); `package` builds the autograder zip."""
