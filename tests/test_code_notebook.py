"""Reading code from notebooks and .py files; both forms of the same code grade the same."""

from __future__ import annotations

import json

import nbformat
import pytest
from _code_fixtures import CONV, CONV_FLIPPED, CONV_RIGHT, RNN, RNN_RIGHT, RNN_SWAPPED, code_sandbox  # noqa: F401
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.code.grade import grade_code
from grader.code.notebook import UnreadableCode, read_code, read_notebook, read_python
from grader.code.spec import expect
from grader.sandbox import Limits


def _notebook(cells) -> str:
    return nbformat.writes(new_notebook(cells=cells))


def test_tagged_cells_by_metadata_and_by_first_line_comment():
    text = _notebook(
        [
            new_markdown_cell("# grader: 2.1\nmarkdown is never code"),
            new_code_cell("import torch", metadata={"tags": ["grader:common"]}),
            new_code_cell("def conv1d(x, W):\n    return x", metadata={"tags": ["grader:2.1", "other-tag"]}),
            new_code_cell("# grader: 2.2, 2.3\nclass RNN: pass"),
            new_code_cell("raise SystemExit('an untagged cell never runs')"),
        ]
    )
    code = read_notebook(text, "hw2.ipynb")
    assert code.parts() == {"2.1", "2.2", "2.3"}
    assert [s.code.split("\n")[0] for s in code.for_part("2.1")] == ["import torch", "def conv1d(x, W):"]
    assert [s.name for s in code.for_part("2.3")] == ["hw2.ipynb cell 2", "hw2.ipynb cell 4"]
    assert code.for_part("2.9")[0].code == "import torch"  # only the common cell
    assert all("SystemExit" not in s.code for p in ("2.1", "2.2") for s in code.for_part(p))


def test_outputs_are_never_read_and_magics_are_blanked():
    cell = new_code_cell("%matplotlib inline\n!pip install torch\ndef f(x):\n    return x", metadata={"tags": ["grader:2.1"]})
    cell.outputs = [new_output("stream", name="stdout", text="def f(x): return 'from an output cell'")]
    code = read_notebook(_notebook([cell]), "hw2.ipynb")
    [source] = code.for_part("2.1")
    assert "from an output cell" not in source.code
    assert source.code.split("\n")[:2] == ["pass  # notebook magic not run: %matplotlib inline", "pass  # notebook magic not run: !pip install torch"]
    assert source.code.split("\n")[2] == "def f(x):"  # line numbers kept
    assert len(code.notes) == 2 and "cell 1, line 1" in code.notes[0]


@pytest.mark.parametrize("text", ["not json", json.dumps({"cells": "nope"}), json.dumps([1, 2]), "{" * 100_000])
def test_an_unreadable_notebook_is_refused_with_a_pointer(text):
    with pytest.raises(UnreadableCode, match="not a readable Jupyter notebook"):
        read_notebook(text, "hw2.ipynb")


def test_python_sections():
    text = "import torch\n# grader: 2.1\ndef conv1d(x, W):\n    return x\n# %%\nprint('untagged cell')\n# grader: common\nimport math\n"
    code = read_python(text, "hw2.py")
    [first, common] = code.for_part("2.1")
    assert first.first_line == 2 and first.code.startswith("# grader: 2.1") and "untagged" not in first.code
    assert common.code == "# grader: common\nimport math\n"
    whole = read_python("def f(x):\n    return x\n", "hw2.py")
    assert [s.code for s in whole.for_part("anything")] == ["def f(x):\n    return x\n"]


def test_read_code_by_extension(tmp_path):
    (tmp_path / "a.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "a.ipynb").write_text(_notebook([new_code_cell("# grader: 1\ndef f(x):\n    return x")]))
    assert read_code(tmp_path / "a.py").for_part("1")[0].name == "a.py"
    assert read_code(tmp_path / "a.ipynb").for_part("1")[0].name == "a.ipynb cell 1"


@pytest.fixture(scope="module")
def sandbox(code_sandbox):
    return code_sandbox


@pytest.mark.parametrize(
    ("part", "spec", "code"),
    [("2.1", CONV, CONV_RIGHT), ("2.1", CONV, CONV_FLIPPED), ("2.2", RNN, RNN_RIGHT), ("2.2", RNN, RNN_SWAPPED)],
    ids=["conv-right", "conv-flipped", "rnn-right", "rnn-swapped"],
)
def test_notebook_and_python_forms_grade_the_same(sandbox, part, spec, code):
    probes = expect(spec)
    imports, body = "import torch\nfrom torch import nn\n", code.replace("import torch\n", "").replace("from torch import nn\n", "")
    notebook = _notebook(
        [
            new_code_cell(imports, metadata={"tags": ["grader:common"]}),
            new_code_cell("raise RuntimeError('scratch work')"),
            new_code_cell(f"# grader: {part}\n{body}"),
        ]
    )
    as_notebook = read_notebook(notebook, "hw2.ipynb").for_part(part)
    as_python = read_python(f"# grader: common\n{imports}# grader: {part}\n{body}", "hw2.py").for_part(part)
    verdicts = [grade_code(sandbox, spec, probes, sources, Limits(seconds=10)) for sources in (as_notebook, as_python)]
    a, b = (v.model_dump(include={"status", "mistake", "checks"}) for v in verdicts)
    assert a == b
    assert verdicts[0].status == ("correct" if code in (CONV_RIGHT, RNN_RIGHT) else "incorrect")


def test_tracebacks_point_into_the_notebook_cell(sandbox):
    probes = expect(CONV)
    text = _notebook([new_code_cell("x = 1"), new_code_cell("# grader: 2.1\ndef conv1d(x, W):\n    return x.undefined_method()")])
    verdict = grade_code(sandbox, CONV, probes, read_notebook(text, "hw2.ipynb").for_part("2.1"), Limits(seconds=10))
    assert "hw2.ipynb cell 2, line 3: return x.undefined_method()" in verdict.feedback
