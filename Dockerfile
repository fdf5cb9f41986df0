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
FROM python:3.11-slim

ARG ASSIGNMENT=csc321-hw4
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# CPU-only torch first: a bare torch requirement would pull several GB of CUDA wheels.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /build
COPY pyproject.toml README.md ./
COPY grader ./grader
RUN pip install .

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
