"""The report: profile summaries, the figure, HTML and Markdown rendering, and the stage script."""

import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import PROJECT_ROOT, make_dilemma_record, write_jsonl
from llmvalues.errors import InputError
from llmvalues.figures import PALETTE, model_styles, render_profiles_svg
from llmvalues.instrument import select_instrument
from llmvalues.norms import load_norms
from llmvalues.outputs import write_csv, write_json
from llmvalues.params import load_params
from llmvalues.document import render_html, render_markdown
from llmvalues.report import (
    build_report,
    format_number,
    profile_means,
    read_quality,
    read_scores,
    summarize_profiles,
)
from llmvalues.provenance import summarize_records
from llmvalues.report_methods import methods_section
from llmvalues.scoring import score_responses
from llmvalues.values import CIRCLE_ORDER, VALUE_BY_CODE

SHIPPED_NORMS = PROJECT_ROOT / "data" / "norms" / "human-centered-means.csv"
SECTIONS = ["What this is", "Summary of findings", "Methods", "Models", "Data quality", "Value profiles", "Limitations",
            "Human norms", "Provenance"]
SCRIPT = "<script>alert(1)</script>"


def items_of(code: str) -> list[int]:
    return list(VALUE_BY_CODE[code].items)


def ratings_for(models_trials: dict[str, list[dict[int, float]]]) -> pd.DataFrame:
    """Build a ratings table: every item rated 3 except the items given per trial."""
    rows, index = [], []
    for model, trials in models_trials.items():
        for trial, overrides in enumerate(trials, start=1):
            ratings = {item: 3.0 for item in range(1, 58)}
            ratings.update(overrides)
            rows.append(ratings)
            index.append((model, trial))
    return pd.DataFrame(rows, index=pd.MultiIndex.from_tuples(index, names=["model", "trial"]))


def study_plan(models: list[str]) -> dict[str, list[dict[int, float]]]:
    """A small study: the first model rates the BEC items 6 then 5, the second leaves POD unanswered."""
    first, second = models[0], models[1]
    return {
        first: [{item: 6.0 for item in items_of("BEC")}, {item: 5.0 for item in items_of("BEC")}],
        second: [{item: math.nan for item in items_of("POD")}] * 3,
    }


def study_scores(models: list[str]) -> pd.DataFrame:
    return score_responses(ratings_for(study_plan(models))).reset_index()


def study_dilemma_records(model: str, scores: pd.DataFrame) -> list[dict]:
    """Answer the first eight shipped dilemmas in every trial of the study, orders alternating."""
    replies = ["1", "5", "3", "6", "2", "4"]
    trials = sorted(scores.loc[scores["model"] == model, "trial"])
    return [make_dilemma_record(model, trial, f"d{number:02d}", reply=replies[(number + 2 * trial) % len(replies)],
                                shown_order="AB" if (number + trial) % 2 else "BA")
            for trial in trials for number in range(1, 9)]


def study_answers(models: list[str]) -> pd.DataFrame:
    """The used answers of the same study, in the columns the reliability stage reads."""
    ratings = ratings_for(study_plan(models))
    rows = []
    for (model, trial), row in ratings.iterrows():
        for item, rating in row.items():
            rows.append({"model": model, "trial": trial, "item": item, "used": True,
                         "status": "refusal" if math.isnan(rating) else "valid", "rating": rating})
    return pd.DataFrame(rows)


def quality_entry(trials: int, valid: int, refusal: int, digit_mass=None) -> dict:
    answers = valid + refusal
    counts = {status: 0 for status in ("valid", "hedged", "refusal", "out_of_range", "ambiguous",
                                       "unparseable", "empty", "truncated", "error")}
    counts.update(valid=valid, refusal=refusal)
    return {
        "trials": trials,
        "expected_answers": trials * 57,
        "answers": answers,
        "missing_answers": trials * 57 - answers,
        "status_counts": counts,
        "status_rates": {status: count / answers for status, count in counts.items()},
        "counted_rate": valid / (trials * 57),
        "reasked_answers": 1,
        "mean_digit_mass": digit_mass,
    }


def study_quality(models: list[str]) -> dict:
    return {"models": {models[0]: quality_entry(2, 110, 4, digit_mass=0.875),
                       models[1]: quality_entry(3, 171, 0)}}


# The shipped params with two made-up models whose ids hold markup.
PARAMS = dict(load_params(PROJECT_ROOT / "params.yaml"), models={
    "alpha-one": {"provider": "openai", "model": SCRIPT},
    "beta-two": {"provider": "llama_cpp", "model": "beta & weights"},
})
COLLECTION = {"models": {
    "alpha-one": {"models_returned": {f"{SCRIPT}-2024": 114}, "first_requested_at": "2026-01-02T10:00:00.000Z",
                  "last_received_at": "2026-01-03T09:00:00.000Z"},
    "beta-two": {"models_returned": {"beta.gguf": 171}, "first_requested_at": "2026-01-02T11:00:00.000Z",
                 "last_received_at": "2026-01-02T12:00:00.000Z"},
}}
MODELS = list(PARAMS["models"])


@pytest.fixture(scope="module")
def instrument():
    return select_instrument(PARAMS["instrument"], "params.yaml", root=PROJECT_ROOT)


def make_report(norms, instrument, params_text="models: {}\n"):
    profiles = summarize_profiles(study_scores(MODELS), MODELS)
    report = build_report(
        params=PARAMS, params_text=params_text, instrument=instrument, profiles=profiles,
        quality=study_quality(MODELS), norms=norms, input_hashes={"params.yaml": "0" * 32},
        versions={"python": "3.11.0", "numpy": "2.0.0"}, methods=methods_section(PARAMS, COLLECTION, instrument),
        findings=["A finding."], limitations=["A limitation."],
    )
    svg = render_profiles_svg(profile_means(profiles, MODELS), norms.means)
    return report, svg


@pytest.fixture(scope="module")
def shipped(instrument):
    """The report and figure built on the shipped norms."""
    return make_report(load_norms(SHIPPED_NORMS), instrument)


def markdown_row(markdown: str, first_cell: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {first_cell} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


# --- Summaries ---------------------------------------------------------------


def test_profile_mean_sd_and_n():
    profiles = summarize_profiles(study_scores(MODELS), MODELS).set_index(["model", "value"])
    # Trial 1 rates the BEC items 6 and the other 54 items 3, so MRAT = 180/57. Trial 2 rates BEC 5: MRAT = 177/57.
    trial_scores = [6 - 180 / 57, 5 - 177 / 57]
    bec = profiles.loc[("alpha-one", "BEC")]
    assert bec["mean"] == pytest.approx(np.mean(trial_scores))
    assert bec["sd"] == pytest.approx(np.std(trial_scores, ddof=1))
    assert bec["n"] == 2


def test_missing_scores_stay_nan():
    profiles = summarize_profiles(study_scores(MODELS), MODELS + ["gamma-three"]).set_index(["model", "value"])
    pod = profiles.loc[("beta-two", "POD")]
    assert math.isnan(pod["mean"])
    assert pod["n"] == 0
    assert profiles.loc[("beta-two", "SDT"), "n"] == 3
    assert (profiles.loc["gamma-three", "n"] == 0).all()


def test_profile_means_order():
    profiles = summarize_profiles(study_scores(MODELS), MODELS)
    table = profile_means(profiles, ["beta-two", "alpha-one"])
    assert list(table.index) == ["beta-two", "alpha-one"]
    assert list(table.columns) == list(CIRCLE_ORDER)


def test_format_number_cases():
    assert format_number(math.nan) == "n/a"
    assert format_number(None) == "n/a"
    assert format_number(-0.001) == "0.00"
    assert format_number(0.125, 1) == "0.1"
    assert format_number(-1.4) == "-1.40"


# --- Figure ------------------------------------------------------------------


def test_figure_lists_codes_in_circle_order():
    norms = load_norms(SHIPPED_NORMS)
    svg = render_profiles_svg(profile_means(summarize_profiles(study_scores(MODELS), MODELS), MODELS), norms.means)
    assert svg.startswith("<?xml")
    positions = [svg.find(f">{code}</text>") for code in CIRCLE_ORDER]
    assert all(position > 0 for position in positions)
    assert positions == sorted(positions)


def test_figure_bytes_repeat():
    norms = load_norms(SHIPPED_NORMS)
    profiles = profile_means(summarize_profiles(study_scores(MODELS), MODELS), MODELS)
    first = render_profiles_svg(profiles, norms.means)
    second = render_profiles_svg(profiles, norms.means)
    assert first == second
    assert "<dc:date>" not in first


def test_figure_leaves_gap_for_nan():
    norms = load_norms(SHIPPED_NORMS)
    profiles = profile_means(summarize_profiles(study_scores(MODELS), MODELS), MODELS)
    svg = render_profiles_svg(profiles, norms.means)
    # Each drawn point is one marker. beta-two has no POD score, so it has one marker fewer than alpha-one.
    first_markers = svg.count(f"fill: {PALETTE[0].lower()}")
    second_markers = svg.count(f"fill: {PALETTE[1].lower()}")
    assert second_markers == first_markers - 1


def test_model_keeps_style_when_models_added():
    before = model_styles(["a", "b"])
    after = model_styles(["a", "b", "c"])
    assert before["a"] == after["a"]
    assert before["b"] == after["b"]
    assert after["a"]["color"] == PALETTE[0]
    assert after["c"]["color"] == PALETTE[2]


def test_styles_differ_beyond_palette():
    models = [f"m{position}" for position in range(len(PALETTE) * 2)]
    styles = model_styles(models)
    combinations = {tuple(sorted(style.items())) for style in styles.values()}
    assert len(combinations) == len(models)


# --- Rendering ---------------------------------------------------------------


def test_html_has_every_section(shipped):
    report, svg = shipped
    page = render_html(report, {"profiles": svg})
    positions = [page.find(f"<h2>{title}</h2>") for title in SECTIONS]
    assert all(position > 0 for position in positions)
    assert positions == sorted(positions)
    assert page.count('<img src="data:image/svg+xml;base64,') == 1
    assert "<svg" not in page


def test_html_is_self_contained(shipped):
    report, svg = shipped
    page = render_html(report, {"profiles": svg})
    assert "<link" not in page
    assert re.findall(r'src="([^:]*):', page) == ["data"]
    assert "@import" not in page
    assert "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in page


def test_markdown_has_every_section(shipped):
    report, _ = shipped
    markdown = render_markdown(report, {"profiles": "figures/report/profiles.svg"})
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == SECTIONS
    assert "](figures/report/profiles.svg)" in markdown


def test_text_from_files_is_escaped(tmp_path, instrument):
    text = (SHIPPED_NORMS.read_text(encoding="utf-8")
            .replace("# source: ", f"# source: {SCRIPT} ")
            .replace("# metric: centered", f"# metric: centered\n# caveat: {SCRIPT} & <b>bold</b>"))
    norms_path = tmp_path / "norms.csv"
    norms_path.write_text(text, encoding="utf-8")
    report, svg = make_report(load_norms(norms_path), instrument, params_text=f"model: {SCRIPT}\n")
    page = render_html(report, {"profiles": svg})
    assert SCRIPT not in page
    assert "<b>bold</b>" not in page
    # model id (models table and methods), the reported model id, source, caveat, params text
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 6
    assert "beta &amp; weights" in page

    markdown = render_markdown(report, {"profiles": "figures/report/profiles.svg"})
    assert r"\<script\>alert(1)\</script\>" in markdown
    assert "beta \\& weights" in markdown


def test_nan_shows_as_na(shipped):
    report, _ = shipped
    markdown = render_markdown(report, {"profiles": "figures/report/profiles.svg"})
    header = markdown_row(markdown, "value")
    pod = dict(zip(header, markdown_row(markdown, "POD")))
    assert pod["beta-two mean"] == "n/a"
    assert pod["beta-two SD"] == "n/a"
    assert pod["beta-two n"] == "0"
    assert pod["human mean"] == "-1.40"
    total = dict(zip(header, markdown_row(markdown, "sum")))
    assert total["beta-two mean"] == "n/a"
    assert total["human mean"] == "0.24"
    page = render_html(report, {"profiles": "<svg></svg>"})
    assert page.count("<td class=\"number\">n/a</td>") >= 3


def test_table_numbers_match_scores(shipped):
    report, _ = shipped
    markdown = render_markdown(report, {"profiles": "figures/report/profiles.svg"})
    header = markdown_row(markdown, "value")
    bec = dict(zip(header, markdown_row(markdown, "BEC")))
    trial_scores = [6 - 180 / 57, 5 - 177 / 57]
    assert bec["alpha-one mean"] == f"{np.mean(trial_scores):.2f}"
    assert bec["alpha-one SD"] == f"{np.std(trial_scores, ddof=1):.2f}"
    assert bec["alpha-one n"] == "2"
    assert bec["human mean"] == "0.79"
    # Every item answered: alpha-one's centered means sum to 0.
    assert dict(zip(header, markdown_row(markdown, "sum")))["alpha-one mean"] == "0.00"


def test_quality_tables_show_counts(shipped):
    report, _ = shipped
    markdown = render_markdown(report, {"profiles": "figures/report/profiles.svg"})
    models_header = markdown_row(markdown, "model")
    alpha = dict(zip(models_header, markdown_row(markdown, "alpha-one")))
    assert alpha["answers"] == "114 of 114"
    assert alpha["counted rate"] == f"{100 * 110 / 114:.1f}%"
    assert alpha["mean digit mass"] == "0.875"
    beta = dict(zip(models_header, markdown_row(markdown, "beta-two")))
    assert beta["mean digit mass"] == "n/a"
    assert "| alpha-one | 110 (96.5%) | 0 | 4 (3.5%) |" in markdown


def test_norms_offset_sentence(shipped):
    report, svg = shipped
    page = render_html(report, {"profiles": svg})
    assert "sums to 0 when the model answered every item, while these human means sum to +0.24" in page
    assert "+0.013 per value on average" in page
    assert "may be swapped" in page


def test_rendering_repeats_byte_for_byte(instrument):
    norms = load_norms(SHIPPED_NORMS)
    first_report, first_svg = make_report(norms, instrument)
    second_report, second_svg = make_report(norms, instrument)
    assert render_html(first_report, {"profiles": first_svg}) == render_html(second_report, {"profiles": second_svg})
    assert (render_markdown(first_report, {"profiles": "f.svg"}) == render_markdown(second_report, {"profiles": "f.svg"}))


# --- Inputs ------------------------------------------------------------------


def test_scores_missing_column(tmp_path):
    path = tmp_path / "values.csv"
    study_scores(MODELS).drop(columns=["HUM_centered"]).to_csv(path, index=False)
    with pytest.raises(InputError, match=r"values.csv: column 'HUM_centered': missing column; run the score stage"):
        read_scores(path)


def test_quality_invalid_json(tmp_path):
    path = tmp_path / "quality.json"
    path.write_text('{"models": {', encoding="utf-8")
    with pytest.raises(InputError, match=r"quality.json: line 1: invalid JSON"):
        read_quality(path)


# --- The stage script ----------------------------------------------------------

BIN = Path(sys.executable).parent
OUTPUTS = ["reports/report.html", "reports/report.md", "reports/figures/report/profiles.svg"]


def run_stage(folder: Path) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONPATH=str(folder))
    return subprocess.run([str(BIN / "python"), "stages/report.py"], cwd=folder, env=environment,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A project folder with the library, the stages, params.yaml, scores and quality counts."""
    folder = tmp_path_factory.mktemp("study")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PROJECT_ROOT / "llmvalues", folder / "llmvalues", ignore=ignore)
    shutil.copytree(PROJECT_ROOT / "stages", folder / "stages", ignore=ignore)
    shutil.copy(PROJECT_ROOT / "params.yaml", folder / "params.yaml")
    params = load_params(folder / "params.yaml")
    norms_path = folder / params["norms"]["file"]
    norms_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_NORMS, norms_path)
    models = list(params["models"])
    assert len(models) >= 2, "the shipped params.yaml is expected to list at least two models"
    scores = study_scores(models[:2])
    write_csv(folder / "data" / "scores" / "values.csv", scores)
    write_json(folder / "reports" / "metrics" / "quality.json", study_quality(models[:2]))
    write_csv(folder / "data" / "clean" / "answers.csv", study_answers(models[:2]))
    shutil.copytree(PROJECT_ROOT / "data" / "dilemmas", folder / "data" / "dilemmas")
    collection = {}
    for model in models[:2]:
        records = study_dilemma_records(model, scores)
        write_jsonl(folder / "data" / "raw" / f"{model}.jsonl", records)
        collection[model] = summarize_records(records)
    write_json(folder / "data" / "clean" / "collection.json", {"models": collection})
    environment = dict(os.environ, PYTHONPATH=str(folder))
    for stage in ("reliability", "structure", "compare", "dilemmas"):
        result = subprocess.run([str(BIN / "python"), f"stages/{stage}.py"], cwd=folder, env=environment,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def first_run(study) -> dict[str, bytes]:
    result = run_stage(study)
    assert result.returncode == 0, result.stderr
    return {name: (study / name).read_bytes() for name in OUTPUTS}


def test_stage_writes_identical_outputs(study, first_run):
    second = run_stage(study)
    assert second.returncode == 0, second.stderr
    after = {name: (study / name).read_bytes() for name in OUTPUTS}
    assert first_run == after
    for name, content in after.items():
        assert str(study).encode() not in content, name
    assert not list(study.rglob("*.tmp"))


def test_stage_report_names_models_and_inputs(study, first_run):
    params = load_params(study / "params.yaml")
    page = first_run["reports/report.html"].decode("utf-8")
    for slug, settings in params["models"].items():
        assert f"<td>{slug}</td>" in page
        assert f"<td>{settings['model']}</td>" in page
    for name in ("data/scores/values.csv", "reports/metrics/quality.json", "params.yaml", params["norms"]["file"]):
        assert f"<td>{name}</td>" in page
    assert re.search(r"<td>matplotlib</td>\s*<td>\d", page)
    markdown = first_run["reports/report.md"].decode("utf-8")
    assert "](figures/report/profiles.svg)" in markdown


def test_stage_missing_norms_is_one_line(study, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(study, clone, ignore=shutil.ignore_patterns("reports"))
    for folder in ("metrics", "tables", "figures"):
        shutil.copytree(study / "reports" / folder, clone / "reports" / folder)
    params_path = clone / "params.yaml"
    norms_file = load_params(params_path)["norms"]["file"]
    params_path.write_text(params_path.read_text().replace(f"file: {norms_file}", "file: data/norms/absent.csv"))
    result = run_stage(clone)
    assert result.returncode == 1
    assert result.stderr == ("error: data/norms/absent.csv: norms file not found; "
                             "check norms.file in params.yaml\n")
    assert not (clone / "reports" / "report.html").exists()


def test_methods_name_ids_and_dates(instrument):
    params = dict(PARAMS, models={
        "smol": {"provider": "llama_cpp", "model": "SmolLM2-135M-Instruct"},
        "remote": {"provider": "openai", "model": "gpt-x", "template": "my-template", "temperature": 1.0},
    })
    collection = {"models": {
        "smol": {"models_returned": {"smol.gguf": 10}, "first_requested_at": "2026-03-01T10:00:00Z",
                 "last_received_at": "2026-03-01T11:00:00Z"},
        "remote": {"models_returned": {"gpt-x-2026-02-01": 7, "gpt-x-2026-03-01": 3},
                   "first_requested_at": "2026-03-02T10:00:00Z", "last_received_at": "2026-03-04T08:00:00Z"},
    }}
    section = methods_section(params, collection, instrument)
    text = " ".join(getattr(block, "text", " ".join(getattr(block, "items", []))) for block in section.blocks)
    assert "between 2026-03-01 and 2026-03-04 (UTC)" in text
    assert "remote: openai, requested gpt-x; reported gpt-x-2026-02-01 (7 records), gpt-x-2026-03-01 (3 records); " \
           "collected 2026-03-02 to 2026-03-04." in text
    assert "smol: llama_cpp, requested SmolLM2-135M-Instruct; reported smol.gguf (10 records); collected 2026-03-01." \
        in text
    assert f"temperature {params['collect']['temperature']}" in text
    assert "remote: temperature 1.0" in text
    assert "my-template, portrait-chat-v1" in text
    assert "not the PVQ-RR" in text
    assert f"{params['structure']['permutations']} permutations" in text
    assert text.count("tiny models") == 1
    assert "smol: tiny models" in text


def test_stage_malformed_summary_is_one_line(study, tmp_path):
    clone = tmp_path / "clone"
    shutil.copytree(study, clone)
    summary = clone / "reports" / "tables" / "compare" / "summary.json"
    summary.write_text(summary.read_text().replace('"hierarchy"', '"renamed"'), encoding="utf-8")
    result = run_stage(clone)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "unexpected content (KeyError: 'hierarchy')" in result.stderr
    assert "dvc repro --force clean" in result.stderr
