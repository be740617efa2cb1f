"""The report's section on the value circle: confirmatory MDS per model and pooled.

Built from reports/metrics/structure.json (written by the structure stage) and
the maps under reports/figures/structure/.
"""

from __future__ import annotations

from typing import Any

from .document import BulletList, FigurePlaceholder, Paragraph, Section, Table
from .report_format import MISSING, format_number, format_p

POOLED_LABEL = "all models pooled"


def structure_figure_key(unit: str) -> str:
    """Return the figure key of one unit's map (the key the report stage gives its SVG)."""
    return f"structure/{unit}"


def structure_section(metrics: dict[str, Any], models: list[str], pooled_unit: str) -> Section:
    """Assemble the section: method, one table of fit statistics, warnings and a map per fitted unit.

    Units appear in the order of ``models`` (params.yaml order), then the pooled
    unit; the metrics file itself lists them sorted by name.
    """
    settings = metrics["settings"]
    level = metrics["level"]
    points = "the 19 values" if level == "value" else "the 57 items"
    blocks: list[Any] = [Paragraph(
        f"Confirmatory multidimensional scaling of {points}, per model (trials as cases) and with all models' "
        f"trials pooled. Correlations between {metrics.get('scores', 'centered')} scores become dissimilarities "
        f"{settings['dissimilarity']}, fitted by {settings['type']} SMACOF in two dimensions"
        + (f" with {settings['ties']} ties" if settings["type"] == "ordinal" else "")
        + f", starting from {_start_words(settings['init'])}"
        + (f" and {settings['random_starts']} random starts (the lowest stress kept)" if settings["random_starts"] else "")
        + f"; iterations stop when stress decreases by less than {settings['eps']:g}. Stress is stress-1 as R's "
        "smacof package reports it (0 is a perfect fit). The permutation test shuffles each value's scores "
        "across trials independently and refits; p = (shuffles that fit at least as well + 1) / (shuffles + 1). The "
        "random-stress norm is the stress of random dissimilarities for the same number of points. Congruence "
        "and alienation compare the fitted configuration with the theoretical circle after a Procrustes fit "
        "(rotation, reflection, dilation, translation).")]

    header = ["unit", "trials", "points", "stress-1", "permutation p", "permuted stress, mean",
              "random stress, mean (SD)", "congruence", "alienation", "out of order"]
    numeric = [False, True, True, True, True, True, True, True, True, False]
    rows, warnings, figures = [], [], []
    units = metrics["units"]
    for unit in [model for model in models if model in units] + [pooled_unit] * (pooled_unit in units):
        result = units[unit]
        label = POOLED_LABEL if unit == pooled_unit else unit
        if not result["fitted"]:
            rows.append([label] + [MISSING] * 8 + ["not fitted"])
            warnings.append(f"{label}: not fitted, because it {result['reason']}.")
            continue
        permutation = result.get("permutation")
        norm = result.get("random_stress")
        out = result["out_of_order"]
        rows.append([
            label,
            str(result["n_trials"]),
            str(result["n_points"]),
            format_number(result["stress1"], 3),
            format_p(permutation["p_value"]) + f" ({permutation['permutations']})" if permutation else MISSING,
            format_number(permutation["mean_stress1"], 3) if permutation else MISSING,
            f"{format_number(norm['mean_stress1'], 3)} ({format_number(norm['sd_stress1'], 3)})" if norm else MISSING,
            format_number(result["congruence"], 3),
            format_number(result["alienation"], 3),
            f"{len(out)}: {', '.join(out)}" if out else "0",
        ])
        if not result["converged"]:
            warnings.append(f"{label}: SMACOF stopped at the iteration limit ({result['iterations']}) "
                            "before converging.")
        warnings += [f"{label}: {warning}." for warning in result["warnings"]]
        figures.append(FigurePlaceholder(
            caption=(f"MDS map of {label}, rotated (and reflected) to the theoretical circle by the Procrustes fit "
                     "and scaled to a root-mean-square radius of 1: filled markers are the fitted points, open grey "
                     "circles their theoretical positions, crosses the points out of "
                     f"theoretical order. Stress-1 {format_number(result['stress1'], 3)}, congruence "
                     f"{format_number(result['congruence'], 3)}."),
            alt=f"Scatter plot of the MDS configuration of {label} with the theoretical circle.",
            key=structure_figure_key(unit),
        ))

    blocks.append(Table(header, rows, numeric))
    blocks.append(Paragraph(
        "Reading the table: a stress well below the random norm and a small permutation p say the answers carry "
        "structure; a congruence near 1 and few values out of order say the structure is the theoretical circle. "
        "Correlations over a model's trials describe how its answers vary from one trial to the next, which is "
        "not the variation between people that the circle was found in."))
    if warnings:
        blocks.append(Paragraph("Warnings:"))
        blocks.append(BulletList(warnings))
    blocks += figures
    return Section("Structure of values (confirmatory MDS)", blocks)


def _start_words(init: str) -> str:
    return {"theory": "the theoretical circle", "torgerson": "the classical (Torgerson) solution"}.get(
        init, "a given configuration")
