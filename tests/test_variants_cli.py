"""The commands around per-student numbers: template --student, sheets, course init, and grader
run picking a variant from where a submission was handed in (never from a typed student line)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from typer.testing import CliRunner

from grader.cli import app
from grader.course import read_course_file
from grader.keys.build import read_key
from grader.keys.variants import for_course
from grader.problemset import load_problem_file

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "grader.toml"
runner = CliRunner()


def demo_variant(student: str):
    ps = load_problem_file(ROOT / "problems" / "csc321_hw4.py")["csc321-hw4"]
    keys = for_course(read_course_file(COURSE), "csc321-hw4-variants", ps, read_key(ROOT / "reference" / "csc321-hw4.json"))
    return keys.variant_for(student)


def test_template_shows_a_students_own_numbers():
    result = runner.invoke(app, ["template", "csc321-hw4-variants", "--student", "v1002", "--course", str(COURSE), "--problems", str(ROOT / "problems")])
    assert result.exit_code == 0, result.output
    variant = demo_variant("v1002")
    assert f"variant {variant.code}" in result.stdout and 'assignment = "csc321-hw4-variants"' in result.stdout
    assert f"Forward pass for x = [{', '.join(map(str, variant.values['x']))}]" in result.stdout
    printed = runner.invoke(app, ["template", "csc321-hw4", "--student", "v1002", "--course", str(COURSE), "--problems", str(ROOT / "problems")])
    assert "x = [1, 3, 2, 1, 1, 0, 1]" in printed.stdout and "variant" not in printed.stdout.split("[answers]")[0]


def test_sheets_are_written_for_the_class_folder(tmp_path):
    result = runner.invoke(app, ["sheets", "csc321-hw4-variants", "--course", str(COURSE), "--out", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.md"))
    assert names == [f"v100{i}.md" for i in range(1, 6)]
    assert len(list((tmp_path / "keys").glob("*.md"))) == 5
    assert demo_variant("v1004").code in (tmp_path / "v1004.md").read_text()


def test_course_init_creates_a_private_secret_kept_out_of_git(tmp_path):
    result = runner.invoke(app, ["course", "init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    secret = tmp_path / ".grader" / "secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(bytes.fromhex(secret.read_text().strip())) == 32
    assert "/.grader/secret" in (tmp_path / ".gitignore").read_text().splitlines()
    before = secret.read_text()
    assert runner.invoke(app, ["course", "init", str(tmp_path)]).exit_code == 0 and secret.read_text() == before


def test_the_variant_comes_from_the_folder_not_a_typed_student_line(tmp_path):
    """v1005's folder with a file claiming to be v1001: graded with v1005's numbers."""
    klass = tmp_path / "class" / "csc321-hw4-variants" / "v1005"
    klass.mkdir(parents=True)
    text = (ROOT / "submissions" / "csc321-hw4-variants" / "v1005" / "answers.toml").read_text()
    (klass / "answers.toml").write_text(text.replace('assignment = "csc321-hw4-variants"\n', 'assignment = "csc321-hw4-variants"\nstudent = "v1001"\n'))
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(tmp_path / "class"), "--out", str(out), "--course", str(COURSE), "--quiet", "--budget", "0",
                                 "--problems", str(ROOT / "problems"), "--reference", str(ROOT / "reference")])
    assert result.exit_code == 0, result.output
    assert not (out / "csc321-hw4-variants" / "v1001.json").exists()  # the report is v1005's, under v1005's name
    report = json.loads((out / "csc321-hw4-variants" / "v1005.json").read_text())
    assert report["student"] == "v1005"
    assert "the file says student = 'v1001', but it was handed in by 'v1005'; graded as 'v1005'" in report["warnings"]
    assert report["variant"]["code"] == demo_variant("v1005").code != demo_variant("v1001").code
    assert report["score"] == 25.5  # all right: v1005's own numbers


def test_gradescope_picks_the_uploaders_numbers(tmp_path):
    import zipfile

    from grader.lms.gradescope.driver import AutograderConfig, run

    zip_path = tmp_path / "autograder.zip"
    result = runner.invoke(app, ["export", "gradescope", "csc321-hw4-variants", "-o", str(zip_path), "--course", str(COURSE),
                                 "--problems", str(ROOT / "problems"), "--reference", str(ROOT / "reference")])
    assert result.exit_code == 0, result.output
    scores = {}
    for uploader in ("v1002", "v1001"):
        root = tmp_path / uploader
        zipfile.ZipFile(zip_path).extractall(root / "source")
        (root / "submission").mkdir()
        answers = (ROOT / "submissions" / "csc321-hw4-variants" / "v1001" / "answers.toml").read_text()
        (root / "submission" / "answers.toml").write_text(answers)  # v1001's answers, whoever uploads them
        (root / "submission_metadata.json").write_text(json.dumps({"users": [{"sid": uploader, "email": f"{uploader}@example.edu"}]}))
        results = run(AutograderConfig(root=root, assignment="csc321-hw4-variants", part_budget=None))
        scores[uploader] = results.score
        assert "v1001" not in results.output or uploader == "v1001"
    assert scores["v1001"] == 25.5 and scores["v1002"] < scores["v1001"]


def test_a_regrade_grades_against_the_numbers_stored_with_the_reports(tmp_path):
    """After the draws change (here: a new variant version deals everyone new numbers), a
    regrade still grades each student against the numbers their report was graded with, so
    nobody's grade moves; a fresh run with the new version deals other numbers."""
    import shutil

    course_dir = tmp_path / "course"
    course_dir.mkdir()
    text = COURSE.read_text()
    for name in ("problems", "reference"):
        text = text.replace(f'{name} = "{name}"', f'{name} = "{ROOT / name}"')
    text = text.replace('secret = "demo-course.secret"', f'secret = "{ROOT / "demo-course.secret"}"')
    (course_dir / "grader.toml").write_text(text)
    klass = tmp_path / "class"
    shutil.copytree(ROOT / "submissions" / "csc321-hw4-variants", klass / "csc321-hw4-variants")
    common = ["--course", str(course_dir), "--budget", "0"]

    def run(out):
        result = runner.invoke(app, ["run", str(klass), "--out", str(out), "--quiet", *common])
        assert result.exit_code == 0, result.output
        return {p.stem: json.loads(p.read_text()) for p in (out / "csc321-hw4-variants").glob("v1*.json")}

    before = run(tmp_path / "out")
    (course_dir / "grader.toml").write_text(text.replace("variants = true", "variants = true\nvariant_version = 2", 1))

    regrade = runner.invoke(app, ["regrade", str(klass), "--out", str(tmp_path / "out"), *common])
    assert regrade.exit_code == 0, regrade.output
    assert "No grades change" in regrade.output
    after = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out" / "csc321-hw4-variants").glob("v1*.json")}
    assert {s: r["variant"] for s, r in after.items()} == {s: r["variant"] for s, r in before.items()}
    assert {s: r["score"] for s, r in after.items()} == {s: r["score"] for s, r in before.items()}

    fresh = run(tmp_path / "fresh")  # the new version: other numbers, so the old answers lose marks
    assert all(fresh[s]["variant"]["code"] != before[s]["variant"]["code"] for s in before)
    assert sum(r["score"] for r in fresh.values()) < sum(r["score"] for r in before.values())
