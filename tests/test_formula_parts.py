"""Every index-expr part accepts equivalent forms and rejects wrong ones, on every random draw;
q1.1b's shape formula is checked against real Conv2d output shapes.

The forms are written here by hand (reorderings, factorings, index shifts, LaTeX, explicit and
implicit sum limits); the truths come from the committed keys (autograd on the real layers).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from grader.keys.catalog import Catalog
from grader.models import Status
from grader.scoring import GradingContext, PartGrader

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(ROOT / "problems", ROOT / "reference")


def part_grader(catalog: Catalog, assignment: str, part_id: str) -> PartGrader:
    grader = catalog.grader(assignment)
    assert grader is not None
    return next(pg for pg in grader.graders if pg.id == part_id)


FORMS = {
    ("nyu-intro-ml-hw8", "q3a"): (
        ["dU[i,j,m]*U[i,j,m]*(1-U[i,j,m])",
         "U_{i,j,m} (1 - U_{i,j,m}) dU_{i,j,m}",
         "dU[i,j,m] σ(Z[i,j,m]) (1 − σ(Z[i,j,m]))",
         r"dU[i,j,m] \cdot \frac{e^{-Z[i,j,m]}}{(1+e^{-Z[i,j,m]})^2}",
         "dU[i,j,m]*(U[i,j,m] - U[i,j,m]^2)"],
        ["dU[i,j,m]*U[i,j,m]",                      # sigmoid derivative half missing
         "dU[i,j,m]*(1-U[i,j,m])",
         "U[i,j,m]*(1-U[i,j,m])",                    # upstream gradient missing
         "dU[i,j,m]*Z[i,j,m]*(1-Z[i,j,m])",          # derivative at the wrong point
         "-dU[i,j,m]*U[i,j,m]*(1-U[i,j,m])"],        # sign
    ),
    ("nyu-intro-ml-hw8", "q3b"): (
        ["sum_{i,j} dZ[i,j,m]*X[i+k1,j+k2,n]",
         r"\sum_{i}\sum_{j} X_{i+k_1,j+k_2,n} dZ_{i,j,m}",
         "sum(X[i+k1, j+k2, n] * dZ[i, j, m], i, j)",
         "sum_{i=0}^{9} sum_{j=0}^{9} dZ[i,j,m] X[i+k1,j+k2,n]",  # limits past the end read zeros
         "sum_{i,j} dZ[i-k1,j-k2,m]*X[i,j,n]"],      # the summation variables shifted by k
        ["sum_{i,j} dZ[i,j,m]*X[i-k1,j-k2,n]",       # kernel flipped (named)
         "sum_{i,j} dZ[i,j,m]*X[i+k1+1,j+k2,n]",     # off by one
         "sum_{i,j} dU[i,j,m]*X[i+k1,j+k2,n]",       # sigmoid derivative missing
         "sum_{i,j} dZ[i,j,m]*X[i+k2,j+k1,n]",       # kernel axes swapped
         "dZ[k1,k2,m]*X[k1,k2,n]"],                  # no sum
    ),
    ("nyu-intro-ml-hw8", "q3c"): (
        ["sum_{k1,k2,m} dZ[i-k1,j-k2,m]*W[k1,k2,n,m]",
         "sum(dZ[i-k1,j-k2,m]*W[k1,k2,n,m], k1, k2, m)",
         r"\sum_{k_1=0}^{1}\sum_{k_2=0}^{2}\sum_{m} W_{k_1,k_2,n,m}\, dZ_{i-k_1,j-k_2,m}",
         "sum_{m} sum_{k1,k2} W[k1,k2,n,m] dZ[i-k1,j-k2,m]"],
        ["sum_{k1,k2,m} dZ[i+k1,j+k2,m]*W[k1,k2,n,m]",   # indices not reversed (named)
         "sum_{k1,k2,m} dZ[i-k1,j-k2,m]*W[k2,k1,n,m]",
         "sum_{k1,k2,m} dU[i-k1,j-k2,m]*W[k1,k2,n,m]",
         "sum_{k1,k2} dZ[i-k1,j-k2,n]*W[k1,k2,n,n]"],
    ),
    ("nyu-dl-hw2", "q1.1c.i.expr"): (
        ["sum_{c=1}^{2} sum_{k=1}^{5} W[1,c,k] * x[c, 2(j-1)+k]",
         "sum_{c,k} x_{c,2j+k-2} W_{1,c,k}",
         r"\sum_{c}\sum_{k} W[1,c,k]\,x[c,2(j-1)+k]",
         "sum_{c=1}^{2} sum_{k=0}^{4} W[1,c,k+1] x[c,2j-1+k]"],
        ["sum_{c,k} W[1,c,k] x[c, j+k-1]",              # stride ignored
         "sum_{c,k} W[1,c,6-k] x[c, 2(j-1)+k]",         # kernel flipped (named)
         "sum_{c,k} W[1,c,k] x[c, 2j+k]",               # offset
         "sum_{k} W[1,1,k] x[1, 2(j-1)+k]"],            # one channel only
    ),
    ("nyu-dl-hw2", "q1.1c.ii.expr"): (
        ["x[c, 2(j-1)+k]", "x_{c,2j+k-2}", "x[c, k+2*j-2]", r"x_{c,\,2(j-1)+k}"],
        ["x[c, j+k-1]", "x[c, 2j+k]", "W[1,c,k]", "x[c, 2(j-1)-k]"],
    ),
    ("nyu-dl-hw2", "q1.1c.iii.expr"): (
        ["W[1, c, n-2(j-1)]", "W_{1,c,n-2j+2}", "W[1,c,2+n-2j]", "W[1, c, n - 2*(j - 1)]"],
        ["W[1, c, n-j+1]", "W[1, c, n+2(j-1)]", "x[c, n]", "W[1, c, 2(j-1)-n]"],
    ),
    ("nyu-dl-hw2", "q1.1c.iv.expr"): (
        ["sum_{j=1}^{2} g[j] * x[c, 2(j-1)+k]",
         "sum_{j} x_{c,2j+k-2} g_{j}",
         r"\sum_{j=1}^{2} g_j\, x_{c,2(j-1)+k}",
         "g[1] x[c,k] + g[2] x[c,k+2]"],
        ["sum_{j} g[j] x[c, j+k-1]",                   # stride ignored (named)
         "sum_{j} x[c, 2(j-1)+k]",                     # upstream gradient missing
         "sum_{j} g[j] W[1,c,k]",
         "g[1] x[c,k]"],
    ),
    ("assignment4", "q1c"): (
        ["-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}",
         r"2(z-y)\sum_{i=0}^{3} w_{i+1} h_{i+1} (1-h_{i+1}) x_{i+j}",
         "sum_{i} -2*(y - z)*w[i]*h[i]*(1 - h[i])*x[i+j-1]",
         "-2 (y-z) sum_{i=1}^{4} w_i (h_i - h_i^2) x_{i+j-1}"],
        ["-(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}",     # factor 2 missing (named)
         "2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j-1}",     # sign flipped (named)
         "-2(y-z) sum_{i=1}^{4} w_i x_{i+j-1}",                # sigmoid derivative missing (named)
         "-2(y-z) sum_{i=1}^{4} w_i h_i (1-h_i) x_{i+j}"],     # offset
    ),
}


@pytest.mark.parametrize("assignment,part_id", sorted(FORMS))
def test_equivalent_forms_pass_and_wrong_forms_fail(catalog, assignment, part_id):
    pg = part_grader(catalog, assignment, part_id)
    assert pg.kind.name == "index-expr"
    assert pg.reference.n_points >= 3  # independent random draws
    right, wrong = FORMS[(assignment, part_id)]
    assert len(right) >= 3 and len(wrong) >= 3
    for text in right:
        result = pg.grade(text, GradingContext())
        assert result.status is Status.correct, (text, result.feedback)
        assert result.details["draws"] >= 3
    for text in wrong:
        result = pg.grade(text, GradingContext())
        assert result.status in (Status.incorrect, Status.partial), (text, result.feedback)
        assert result.score < pg.marks
        if result.matched is None:  # an unnamed miss says where the formula first disagrees
            assert "First disagrees at" in result.feedback, result.feedback


def test_every_index_expr_part_is_covered(catalog):
    parts = {(a, pg.id) for a in catalog.assignments for pg in catalog.grader(a).graders if pg.kind.name == "index-expr"}
    assert parts == set(FORMS)


# -- q1.1b: the output shape of a conv layer as formulas in C H W K P S D F ------------------------
FLOOR = "F x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)"


@pytest.mark.parametrize("text", [
    FLOOR,
    "F × ⌊(H+2P−D(K−1)−1)/S⌋+1 × ⌊(W+2P−D(K−1)−1)/S⌋+1",
    "(F, ceil((H+2P-D(K-1))/S), ceil((W+2P-D*(K-1))/S))",
    r"F \times \left\lfloor \frac{H + 2P - D(K-1) - 1}{S} \right\rfloor + 1 \times \left\lfloor \frac{W + 2P - D(K-1) - 1}{S} \right\rfloor + 1",
    r"\mathbb{R}^{F \times (\lfloor (H+2P-DK+D-1)/S \rfloor + 1) \times (\lfloor (W+2P-DK+D-1)/S \rfloor + 1)}",
])
def test_conv_output_shape_formulas_that_are_right(catalog, text):
    result = part_grader(catalog, "nyu-dl-hw2", "q1.1b").grade(text, GradingContext())
    assert result.status is Status.correct, result.feedback


@pytest.mark.parametrize("text,marks,slip", [
    ("F x ((H+2P-D(K-1)-1)/S+1) x ((W+2P-D(K-1)-1)/S+1)", 1.5, "floor missing"),
    ("F x (floor((H+2P-K)/S)+1) x (floor((W+2P-K)/S)+1)", 1.5, "dilation ignored"),
])
def test_named_slips_earn_their_stated_marks(catalog, text, marks, slip):
    result = part_grader(catalog, "nyu-dl-hw2", "q1.1b").grade(text, GradingContext())
    assert result.score == marks and result.status is Status.partial
    assert slip in result.feedback


@pytest.mark.parametrize("text", [
    "F x floor((H+2P-D(K-1)-1)/S) x floor((W+2P-D(K-1)-1)/S)",   # +1 missing
    "F x (floor((H-D(K-1)-1)/S)+1) x (floor((W-D(K-1)-1)/S)+1)",   # padding ignored
    "C x (floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)",  # C instead of F
    "(floor((H+2P-D(K-1)-1)/S)+1) x (floor((W+2P-D(K-1)-1)/S)+1)",  # dimension missing
])
def test_other_wrong_shape_formulas_fail(catalog, text):
    result = part_grader(catalog, "nyu-dl-hw2", "q1.1b").grade(text, GradingContext())
    assert result.status is Status.incorrect, result.feedback


def test_q1_1b_points_match_real_conv2d_and_cover_both_cases():
    """The key's truth at each sampled point is the shape a real torch.nn.Conv2d gives, and the
    points include strides that divide H+2P-D(K-1)-1 and strides that do not."""
    torch = pytest.importorskip("torch")
    key = json.loads((ROOT / "reference" / "nyu-dl-hw2.json").read_text())
    part = next(p for p in key["parts"] if p["id"] == "q1.1b")
    env = {k: np.asarray(v) for k, v in part["reference"]["env"].items()}
    truth = np.asarray(part["reference"]["value"])
    divisible = 0
    for n in range(truth.shape[0]):
        C, H, W, K, P, S, D, F = (int(env[s][n]) for s in "CHWKPSDF")
        conv = torch.nn.Conv2d(C, F, K, stride=S, padding=P, dilation=D, device="meta")
        shape = conv(torch.empty(1, C, H, W, device="meta")).shape[1:]
        assert tuple(truth[n]) == tuple(shape)
        divisible += (H + 2 * P - D * (K - 1) - 1) % S == 0
    assert 0 < divisible < truth.shape[0]
