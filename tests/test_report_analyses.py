"""The report sections of the reliability and structure stages."""

import math

import pandas as pd

from llmvalues.document import FigurePlaceholder, Paragraph, Table, render_html
from llmvalues.report_reliability import ALPHA_FIGURE_KEY, NO_VARIANCE, reliability_section
from llmvalues.report_structure import structure_figure_key, structure_section
from llmvalues.values import CIRCLE_ORDER

MODELS = ["first", "second"]


def reliability_tables():
    rows = []
    for model in MODELS:
        for code in CIRCLE_ORDER:
            rows.append({"model": model, "value": code, "n": 10, "alpha_raw": 0.8, "alpha_std": 0.79,
                         "feldt_lower": 0.6, "feldt_upper": 0.9, "omega_total": 0.81, "constant_items": "",
                         "reason": ""})
    values = pd.DataFrame(rows)
    stubborn = (values["model"] == "second") & (values["value"] == "HUM")
    values.loc[stubborn, ["alpha_raw", "alpha_std", "feldt_lower", "feldt_upper", "omega_total"]] = math.nan
    values.loc[stubborn, "constant_items"] = "7;38;54"
    values.loc[stubborn, "reason"] = "no variance: every item is constant across trials"
    retest = pd.DataFrame([
        {"model": model, "type": name, "form": name, "icc": 0.5, "lower": 0.4, "upper": 0.6, "n_items": 57,
         "n_trials": 10, "reason": ""}
        for model in MODELS for name in ("ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k")
    ])
    return values, retest


def table_of(section):
    return next(block for block in section.blocks if isinstance(block, Table))


def test_reliability_no_variance_shown():
    values, retest = reliability_tables()
    section = reliability_section(values, retest, MODELS, 0.95)
    hum = next(row for row in table_of(section).rows if row[0] == "HUM")
    assert hum[5] == NO_VARIANCE
    assert hum[1] == "0.80 [0.60, 0.90]"


def test_reliability_reason_listed():
    values, retest = reliability_tables()
    section = reliability_section(values, retest, MODELS, 0.95)
    text = " ".join(item for block in section.blocks if hasattr(block, "items") for item in block.items)
    assert "second, HUM: no variance" in text


def test_reliability_figure_placed():
    values, retest = reliability_tables()
    section = reliability_section(values, retest, MODELS, 0.95)
    keys = [block.key for block in section.blocks if isinstance(block, FigurePlaceholder)]
    assert keys == [ALPHA_FIGURE_KEY]


def structure_metrics():
    fitted = {
        "fitted": True, "n_trials": 10, "n_points": 18, "dropped": ["HUM"], "stress1": 0.25, "iterations": 40,
        "converged": True, "start": "theory", "congruence": 0.85, "alienation": 0.53, "dilation": 1.2,
        "n_out_of_order": 2, "out_of_order": ["AC", "TR"],
        "warnings": ["dropped for zero variance across trials: HUM"],
        "permutation": {"permutations": 1000, "p_value": 0.0004, "mean_stress1": 0.27, "sd_stress1": 0.02,
                        "congruence_p_value": 0.31, "mean_congruence": 0.84, "mean_out_of_order": 11.04},
        "random_stress": {"replications": 500, "mean_stress1": 0.29, "sd_stress1": 0.01, "quantile_05": 0.27},
    }
    return {
        "level": "value",
        "scores": "centered",
        "settings": {"type": "ordinal", "ties": "primary", "dissimilarity": "sqrt(2(1-r))", "init": "theory",
                     "random_starts": 0, "eps": 1e-6, "max_iterations": 1000},
        # Sorted by name, as the metrics file lists them.
        "units": {"all_models": dict(fitted, n_trials=20), "first": fitted,
                  "second": {"fitted": False, "reason": "needs at least 3 variables with variance, found 0"}},
    }


def test_structure_units_in_model_order():
    section = structure_section(structure_metrics(), MODELS, "all_models")
    assert [row[0] for row in table_of(section).rows] == ["first", "second", "all models pooled"]


def test_structure_row_values():
    section = structure_section(structure_metrics(), MODELS, "all_models")
    first = table_of(section).rows[0]
    assert first[3] == "0.250"
    assert first[4] == "< 0.001"
    assert first[5] == "0.290 (0.010)"
    assert first[7] == "0.310"
    assert first[8] == "2: AC, TR"
    assert first[9] == "11.0"


def test_structure_without_permutations_says_so():
    metrics = structure_metrics()
    for unit in metrics["units"].values():
        unit.pop("permutation", None)
    section = structure_section(metrics, MODELS, "all_models")
    text = " ".join(block.text for block in section.blocks if isinstance(block, Paragraph))
    assert "No permutation test was run" in text


def test_structure_without_pooled_unit():
    metrics = structure_metrics()
    del metrics["units"]["all_models"]
    section = structure_section(metrics, MODELS, "all_models")
    text = " ".join(block.text for block in section.blocks if isinstance(block, Paragraph))
    assert "pooled" not in text


def test_structure_unfitted_reason_shown():
    section = structure_section(structure_metrics(), MODELS, "all_models")
    assert table_of(section).rows[1][-1] == "not fitted"
    warnings = next(block for block in section.blocks if hasattr(block, "items")).items
    assert any("second: not fitted" in item and "variables with variance" in item for item in warnings)
    assert any("dropped for zero variance across trials: HUM" in item for item in warnings)


def test_structure_maps_for_fitted_units():
    section = structure_section(structure_metrics(), MODELS, "all_models")
    keys = [block.key for block in section.blocks if isinstance(block, FigurePlaceholder)]
    assert keys == [structure_figure_key("first"), structure_figure_key("all_models")]


def test_structure_names_stress_convention():
    section = structure_section(structure_metrics(), MODELS, "all_models")
    text = " ".join(block.text for block in section.blocks if isinstance(block, Paragraph))
    assert "stress-1 as R's smacof package reports it" in text


def test_missing_figure_raises_key_error():
    from llmvalues.document import Report

    section = structure_section(structure_metrics(), MODELS, "all_models")
    try:
        render_html(Report("t", [section]), {})
    except KeyError as error:
        assert "structure/first" in str(error)
    else:
        raise AssertionError("render_html accepted a report whose figure has no SVG")
