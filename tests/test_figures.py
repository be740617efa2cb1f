"""The analysis figures: reproducible SVG text with the expected marks."""

import numpy as np
import pandas as pd

from llmvalues.figures import render_alpha_svg, render_dilemma_svg, render_discriminant_svg, render_structure_svg
from llmvalues.values import CIRCLE_ORDER


def discriminant_scores(functions: int) -> pd.DataFrame:
    generator = np.random.default_rng(1)
    models = ["first", "second", "third"][: functions + 1]
    frame = pd.DataFrame(generator.normal(size=(6 * len(models), functions)),
                         columns=[f"LD{index + 1}" for index in range(functions)])
    frame["model"] = np.repeat(models, 6)
    return frame


def test_discriminant_one_function_rows_per_model():
    svg = render_discriminant_svg(discriminant_scores(1), ["first", "second"])
    assert "discriminant function 1" in svg
    assert "discriminant function 2" not in svg
    assert ">first<" in svg
    assert ">second<" in svg


def test_discriminant_two_functions():
    svg = render_discriminant_svg(discriminant_scores(2), ["first", "second", "third"])
    assert "discriminant function 2" in svg


def test_discriminant_reproducible():
    scores = discriminant_scores(2)
    assert render_discriminant_svg(scores, ["first", "second", "third"]) == \
        render_discriminant_svg(scores, ["first", "second", "third"])


def test_structure_map_marks_out_of_order():
    angles = 2 * np.pi * np.arange(19) / 19
    table = pd.DataFrame({"point": list(CIRCLE_ORDER), "value": list(CIRCLE_ORDER),
                          "map_x": np.cos(angles), "map_y": np.sin(angles),
                          "theory_x": np.cos(angles), "theory_y": np.sin(angles),
                          "out_of_order": [code == "AC" for code in CIRCLE_ORDER]})
    svg = render_structure_svg(table, title="model", colour="#0072B2")
    assert "fitted, out of order" in svg
    assert svg.count(">SDT<") == 2  # the fitted label and the theoretical position's label


def test_alpha_below_floor_drawn_at_floor():
    rows = [{"model": "first", "value": code, "alpha_raw": 0.5, "feldt_lower": 0.2, "feldt_upper": 0.7}
            for code in CIRCLE_ORDER]
    rows[0].update(alpha_raw=-3.0, feldt_lower=-9.0, feldt_upper=0.1)
    rows[1].update(alpha_raw=float("nan"), feldt_lower=float("nan"), feldt_upper=float("nan"))
    svg = render_alpha_svg(pd.DataFrame(rows), ["first"])
    assert "nan" not in svg.lower()


def dilemma_choices():
    rng = np.random.default_rng(3)
    value_diff = rng.normal(0, 1, 40)
    return pd.DataFrame({"model": ["m1"] * 20 + ["m2"] * 20, "value_diff": value_diff,
                         "chose_a": (value_diff + rng.normal(0, 1, 40) > 0).astype(int)})


def test_dilemma_figure_reproducible():
    curves = pd.DataFrame({"model": ["m1", "m1"], "value_diff": [-1.0, 1.0], "probability": [0.3, 0.7]})
    first = render_dilemma_svg(dilemma_choices(), curves, ["m1", "m2"])
    second = render_dilemma_svg(dilemma_choices(), curves, ["m1", "m2"])
    assert first == second
    assert "m1" in first
    assert "m2 (no fit)" in first


def test_dilemma_figure_without_answers():
    empty = pd.DataFrame(columns=["model", "value_diff", "chose_a"])
    curves = pd.DataFrame(columns=["model", "value_diff", "probability"])
    assert "<svg" in render_dilemma_svg(empty, curves, ["m1"])
