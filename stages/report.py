"""Stage report: model value profiles beside human norms, with data quality and provenance.

Reads params.yaml, data/scores/values.csv, reports/metrics/quality.json and the
norms file that params.yaml names. Writes reports/report.html (self-contained,
with the figure inline), reports/report.md and the figure
reports/figures/report/profiles.svg.
"""

from pathlib import Path

from llmvalues.runtime import run_stage  # first: limits BLAS to one thread before numpy loads
from llmvalues.figures import render_profiles_svg
from llmvalues.instrument import select_instrument
from llmvalues.norms import load_norms
from llmvalues.outputs import atomic_write_text
from llmvalues.params import load_params
from llmvalues.document import render_html, render_markdown
from llmvalues.report import (
    HUMAN_LABEL,
    build_report,
    file_md5,
    package_versions,
    profile_means,
    read_quality,
    read_scores,
    summarize_profiles,
)

PARAMS = Path("params.yaml")
VALUES = Path("data/scores/values.csv")
QUALITY = Path("reports/metrics/quality.json")
HTML = Path("reports/report.html")
MARKDOWN = Path("reports/report.md")
FIGURE = Path("reports/figures/report/profiles.svg")


def main() -> None:
    params = load_params(PARAMS)
    instrument = select_instrument(params["instrument"], str(PARAMS))
    norms_path = Path(params["norms"]["file"])
    norms = load_norms(norms_path)
    scores = read_scores(VALUES)
    quality = read_quality(QUALITY)

    models = list(params["models"])
    profiles = summarize_profiles(scores, models)
    svg = render_profiles_svg(profile_means(profiles, models), norms.means, human_label=HUMAN_LABEL)
    inputs = (VALUES, QUALITY, norms_path, PARAMS)
    report = build_report(
        params=params,
        params_text=PARAMS.read_text(encoding="utf-8"),
        instrument=instrument,
        profiles=profiles,
        quality=quality,
        norms=norms,
        input_hashes={path.as_posix(): file_md5(path) for path in inputs},
        versions=package_versions(),
    )

    atomic_write_text(FIGURE, svg)
    atomic_write_text(HTML, render_html(report, svg))
    atomic_write_text(MARKDOWN, render_markdown(report, FIGURE.relative_to(MARKDOWN.parent).as_posix()))


if __name__ == "__main__":
    run_stage(main)
