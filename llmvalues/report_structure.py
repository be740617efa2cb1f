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
    units = metrics["units"]
    scores = metrics.get("scores", "centered")
    order = [model for model in models if model in units] + [pooled_unit] * (pooled_unit in units)
    variables = "values" if level == "value" else "items"
    permutations = next((units[unit]["permutation"]["permutations"] for unit in order
                         if units[unit].get("fitted") and units[unit].get("permutation")), 0)

    method = (f"Multidimensional scaling of the {19 if level == 'value' else 57} {variables}, per model with the "
              "trials as cases")
    method += (", and with all models' trials pooled" if pooled_unit in units else "") + ". "
    method += (f"Correlations between the {variables}' {scores} scores"
               + (" (each rating minus the trial's MRAT)" if level == "item" and scores == "centered" else "")
               + f" become dissimilarities {settings['dissimilarity']}, fitted by {settings['type']} SMACOF in two "
               "dimensions" + (f" with {settings['ties']} ties" if settings["type"] == "ordinal" else "")
               + f", starting from {_start_words(settings['init'])}"
               + (f" and {settings['random_starts']} random starts (the lowest stress kept)"
                  if settings["random_starts"] else "")
               + f"; iterations stop when stress decreases by less than {settings['eps']:g}. ")
    if settings["init"] != "theory":
        method += ("Without the theoretical start the fit is exploratory; the comparison with the circle below "
                   "comes after it. ")
    method += ("Stress is stress-1 as R's smacof package reports it (0 is a perfect fit). Congruence and "
               "alienation compare the fitted configuration with the theoretical circle after a Procrustes fit "
               "(rotation, reflection, dilation, translation); the values out of order are those that break the "
               "theoretical sequence around the circle.")
    blocks: list[Any] = [Paragraph(method)]
    if permutations:
        blocks.append(Paragraph(
            f"The permutation test ({permutations} permutations) shuffles each of the {variables}' scores across "
            "trials independently"
            + (", re-centers each shuffled trial," if scores == "centered" else "")
            + " and refits with the same settings. Each p = (permutations that fit at least as well + 1) / "
            "(permutations + 1), for stress (lower is better) and for congruence (higher is better); the mean "
            "number of values out of order under permutation is given beside the observed count."))
    else:
        blocks.append(Paragraph("No permutation test was run (structure.permutations is 0), so stress and "
                                "congruence have no null distribution here."))

    header = ["unit", "trials", "points", "stress-1", "stress p", "random stress, mean (SD)", "congruence",
              "congruence p", "out of order", "out of order under permutation"]
    numeric = [False, True, True, True, True, True, True, True, False, True]
    rows, warnings, figures = [], [], []
    for unit in order:
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
            format_p(permutation["p_value"]) if permutation else MISSING,
            f"{format_number(norm['mean_stress1'], 3)} ({format_number(norm['sd_stress1'], 3)})" if norm else MISSING,
            format_number(result["congruence"], 3),
            format_p(permutation.get("congruence_p_value")) if permutation else MISSING,
            f"{len(out)}: {', '.join(out)}" if out else "0",
            format_number(permutation.get("mean_out_of_order"), 1) if permutation else MISSING,
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
    reading = ("Reading the table: the permutation p values are the fair test. Correlations from a few trials "
               "fit two dimensions better than uniform random numbers do whatever the data, so a stress below the "
               "random-stress norm alone shows little. A congruence that is high but no higher than under "
               "permutation, or a count of values out of order near its permuted mean, says the map does not "
               "reproduce the circle. Correlations over a model's trials describe how its answers vary from one "
               "trial to the next, which is not the variation between people that the circle was found in.")
    if pooled_unit in units:
        reading += (" The pooled map also mixes the differences between the models' profiles into the "
                    "correlations, so it can differ from every single model's map.")
    blocks.append(Paragraph(reading))
    if warnings:
        blocks.append(Paragraph("Warnings:"))
        blocks.append(BulletList(warnings))
    blocks += figures
    return Section("Structure of values (confirmatory MDS)", blocks)


def _start_words(init: str) -> str:
    return {"theory": "the theoretical circle", "torgerson": "the classical (Torgerson) solution"}.get(
        init, "a given configuration")
