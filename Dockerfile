# syntax=docker/dockerfile:1
# A local stand-in for Gradescope's autograder image, for one assignment:
#
#   docker build -t grader-autograder --build-arg ASSIGNMENT=csc321-hw4 .
#   docker run --rm --cpus=0.5 --memory=768m \
#     -v "$PWD/submissions/csc321-hw4/s1234567:/autograder/submission:ro" \
#     -v "$PWD/results:/autograder/results" grader-autograder
#   cat results/results.json
#
# --cpus/--memory mimic Gradescope's default container (1/2 vCPU, 768 MB). The image holds
# exactly what `grader export gradescope` zips, unpacked in /autograder/source with
# run_autograder copied to /autograder, as Gradescope lays it out. Gradescope's setup.sh is not
# run: it would install the same Python, CPU torch and requirements, into a venv.
#
# Versions: everything is installed with the constraints in constraints.txt, the exact versions the keys were
# built and tested with (torch, numpy, sympy ... and their own dependencies), so an image built
# months later grades like the one tested. The file is committed; after upgrading anything,
# regenerate it in the tested environment with `grader export constraints` (the Gradescope zip
# carries its own copy, written the same way by `grader export gradescope`).
FROM python:3.11-slim

ARG ASSIGNMENT=csc321-hw4
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /build
COPY constraints.txt ./
# CPU-only torch first, alone, at the pinned version: a bare torch requirement would pull
# several GB of CUDA wheels.
RUN pip install --no-deps "$(grep -i '^torch==' constraints.txt)" --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY grader ./grader
# The rest at exactly the pinned versions (torch, already installed, stays as it is);
# PIP_CONSTRAINT rather than -c, so the build of the grader itself is pinned too.
RUN PIP_CONSTRAINT=/build/constraints.txt pip install .

# Problem sets and keys are read through a bind mount of the build context, so a missing
# reference/ folder is no error (the export then builds the key itself).
RUN --mount=type=bind,source=.,target=/context \
    grader export gradescope "$ASSIGNMENT" -o /tmp/autograder.zip \
        --problems /context/problems --reference /context/reference \
 && mkdir -p /autograder/source /autograder/submission /autograder/results \
 && python -m zipfile -e /tmp/autograder.zip /autograder/source \
 && chmod 755 /autograder/source/run_autograder /autograder/source/setup.sh \
 && cp /autograder/source/run_autograder /autograder/run_autograder \
 && rm -rf /build /tmp/autograder.zip

WORKDIR /autograder
CMD ["/autograder/run_autograder"]
