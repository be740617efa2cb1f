"""The dilemma analysis of a study: value differences from the scores, fits, tables and metrics."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

from llmvalues.dilemma_answers import FILE_ORDER, REVERSED, in_file_terms
from llmvalues.dilemma_study import POOLED, analyze_dilemmas, value_difference_table, value_differences
from llmvalues.dilemmas import Dilemma, DilemmaSet
from llmvalues.errors import InputError
from llmvalues.report_dilemmas import dilemma_section
from llmvalues.values import CIRCLE_ORDER

FIRST = [("SDA", "COR"), ("POD", "BEC"), ("ST", "COI"), ("AC", "UNC"), ("SEP", "UNT"), ("TR", "SDT"),
         ("BED", "POR"), ("HE", "SES")]
PAIRS = FIRST + [(b, a) for a, b in FIRST]  # each pair in both directions, as in the shipped set


def dilemma_set(count=16):
    dilemmas = tuple(Dilemma(id=f"d{number:02d}", setting="", scenario=f"Scenario {number}.",
                             option_a=f"Do A{number}.", option_b=f"Do B{number}.", value_a=PAIRS[number - 1][0],
                             value_b=PAIRS[number - 1][1], notes="")
                     for number in range(1, count + 1))
    return DilemmaSet(id="test-set", name="test set", path="test.yaml", original=True, validated=False,
                      dilemmas=dilemmas)


def scores_table(models, trials, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for model in models:
        for trial in range(1, trials + 1):
            centered = rng.normal(0, 1, len(CIRCLE_ORDER))
            centered -= centered.mean()
            mrat = rng.uniform(2, 5)
            row = {"model": model, "trial": trial}
            row.update({f"{code}_raw": value + mrat for code, value in zip(CIRCLE_ORDER, centered)})
            row.update({f"{code}_centered": value for code, value in zip(CIRCLE_ORDER, centered)})
            rows.append(row)
    return pd.DataFrame(rows)


def choices_from(scores, dilemmas, *, slope, seed=1, always_first=False):
    """Simulate used answers whose side follows the value difference with a known slope."""
    rng = np.random.default_rng(seed)
    rows = []
    for record in scores.to_dict("records"):
        for dilemma in dilemmas.dilemmas:
            order = FILE_ORDER if (record["trial"] + int(dilemma.id[1:])) % 2 else REVERSED
            diff = record[f"{dilemma.value_a}_centered"] - record[f"{dilemma.value_b}_centered"]
            if always_first:
                rating = 1
            else:
                chose_a = rng.random() < special.expit(slope * diff)
                strength = rng.integers(4, 7) if chose_a else rng.integers(1, 4)
                rating = 7 - strength if order == FILE_ORDER else strength
            terms = in_file_terms(int(rating), order)
            rows.append({"model": record["model"], "trial": record["trial"], "dilemma": dilemma.id,
                         "value_a": dilemma.value_a, "value_b": dilemma.value_b, "attempt": 0, "shown_order": order,
                         "status": "valid", "rating": float(rating), **terms, "counted": True, "used": True})
    return pd.DataFrame(rows)


def analyze(choices, scores, models, dilemmas, **options):
    options.setdefault("permutations", 99)
    return analyze_dilemmas(choices, scores, models, dilemmas, trials=int(scores["trial"].max()), **options)


def test_value_difference_from_the_same_trial():
    scores = scores_table(["m"], 2)
    choices = choices_from(scores, dilemma_set(2), slope=1.0)
    table = value_differences(choices, scores, "trial")
    row = table.iloc[2]  # trial 2, first dilemma
    lookup = scores.set_index("trial").loc[2]
    assert row["value_diff"] == pytest.approx(lookup["SDA_centered"] - lookup["COR_centered"])


def test_value_difference_from_the_profile():
    scores = scores_table(["m"], 3)
    choices = choices_from(scores, dilemma_set(2), slope=1.0)
    table = value_differences(choices, scores, "profile")
    expected = scores["SDA_raw"].mean() - scores["COR_raw"].mean()
    assert (table[table["dilemma"] == "d01"]["value_diff"] - expected).abs().max() < 1e-12


def test_missing_scores_leave_answers_out():
    scores = scores_table(["m", "n"], 6)
    scores.loc[0, "SDA_raw"] = math.nan
    dilemmas = dilemma_set()
    study = analyze(choices_from(scores, dilemmas, slope=1.0), scores, ["m", "n"], dilemmas)
    row = study.per_model.set_index("model").loc["m"]
    assert row["missing_scores"] == 2  # SDA is option A of d01 and option B of d09
    assert row["analysed"] == 6 * 16 - 2
    notes = study.fits.set_index(["scope", "outcome"])["note"]
    assert "shuffled rows within model" in notes[("m", "side")]
    assert notes[("n", "side")] == ""


def test_known_slope_is_recovered():
    scores = scores_table(["m", "n"], 10)
    dilemmas = dilemma_set()
    choices = choices_from(scores, dilemmas, slope=1.5)
    study = analyze(choices, scores, ["m", "n"], dilemmas)
    pooled = study.fits[(study.fits["scope"] == POOLED) & (study.fits["outcome"] == "side")].iloc[0]
    assert pooled["ci_low"] < 1.5 < pooled["ci_high"]
    assert pooled["permutation_p"] < 0.05
    assert study.metrics["pooled"]["lodo_accuracy"] > study.metrics["pooled"]["lodo_baseline_accuracy"]
    consistency = study.per_model.set_index("model")["consistency_share"]
    assert (consistency > 0.6).all()
    assert len(choices) == 2 * 10 * 16


def test_always_first_shows_position_bias_and_no_effect():
    scores = scores_table(["m"], 10)
    dilemmas = dilemma_set()
    study = analyze(choices_from(scores, dilemmas, slope=0.0, always_first=True), scores, ["m"], dilemmas)
    row = study.per_model.iloc[0]
    assert row["position_share"] == 1.0
    assert row["position_p"] < 0.001
    side = study.fits[(study.fits["scope"] == "m") & (study.fits["outcome"] == "side")].iloc[0]
    assert side["permutation_p"] > 0.05
    assert 0.3 < row["consistency_share"] < 0.7


def test_tables_and_metrics_cover_every_model():
    scores = scores_table(["m", "n"], 4)
    dilemmas = dilemma_set()
    study = analyze(choices_from(scores, dilemmas, slope=1.0), scores, ["m", "n"], dilemmas)
    assert set(study.fits["scope"]) == {POOLED, "m", "n"}
    assert set(study.metrics["models"]) == {"m", "n"}
    assert len(study.per_dilemma) == 16 * 2
    assert set(study.curves["model"]) == {"m", "n"}
    assert study.curves["probability"].between(0, 1).all()
    assert study.metrics["pooled"]["side"]["fitted"] is True


def test_one_sided_answers_give_notes_not_errors():
    scores = scores_table(["m"], 4)
    dilemmas = dilemma_set()
    choices = choices_from(scores, dilemmas, slope=0.0)
    choices = choices.assign(chose_a=1, strength=6)
    study = analyze(choices, scores, ["m"], dilemmas)
    side = study.fits[(study.fits["scope"] == POOLED) & (study.fits["outcome"] == "side")].iloc[0]
    assert math.isnan(side["slope"])
    assert side["note"]
    assert study.curves.empty


def test_model_without_answers_is_an_error():
    scores = scores_table(["m", "n"], 2)
    dilemmas = dilemma_set()
    choices = choices_from(scores[scores["model"] == "m"], dilemmas, slope=1.0)
    with pytest.raises(InputError, match="no dilemma answers for model 'n'"):
        analyze(choices, scores, ["m", "n"], dilemmas)


def test_permutation_seed_does_not_depend_on_other_models():
    scores = scores_table(["m", "n"], 4)
    dilemmas = dilemma_set()
    choices = choices_from(scores, dilemmas, slope=1.0)
    both = analyze(choices, scores, ["m", "n"], dilemmas)
    alone = analyze(choices[choices["model"] == "m"], scores[scores["model"] == "m"], ["m"], dilemmas)
    pick = lambda study: study.fits[(study.fits["scope"] == "m") & (study.fits["outcome"] == "side")].iloc[0]
    assert pick(both)["permutation_p"] == pick(alone)["permutation_p"]


def test_report_section_shows_tables_and_figure():
    scores = scores_table(["m", "n"], 4)
    dilemmas = dilemma_set()
    study = analyze(choices_from(scores, dilemmas, slope=1.0), scores, ["m", "n"], dilemmas)
    settings = {"predictor": "trial", "confidence": 0.95, "permutations": 99}
    section = dilemma_section(study.metrics, study.fits, study.per_model, ["m", "n"], settings=settings,
                              set_name="test set", set_original=True, set_validated=False, pairs=8,
                              opposing_pairs=8)
    tables = [block for block in section.blocks if hasattr(block, "rows")]
    assert len(tables) == 3
    assert [row[0] for row in tables[0].rows] == ["m", "n"]
    assert len(tables[1].rows) == 9  # pooled and two models: side, strength, position-adjusted side
    assert any(getattr(block, "key", None) == "dilemmas/choices" for block in section.blocks)


def test_unknown_predictor():
    scores = scores_table(["m"], 1)
    with pytest.raises(ValueError, match="predictor"):
        value_differences(choices_from(scores, dilemma_set(2), slope=0.0), scores, "mean")


def test_dilemma_set_replace_keeps_ids():
    dilemmas = dilemma_set(4)
    shorter = dataclasses.replace(dilemmas, dilemmas=dilemmas.dilemmas[:2])
    assert shorter.ids == ("d01", "d02")


def test_value_difference_table_covers_every_cell():
    scores = scores_table(["m", "n"], 3)
    dilemmas = dilemma_set(4)
    cells = value_difference_table(scores, dilemmas, "trial")
    assert cells.shape == (6, 4)
    assert list(cells.columns) == ["d01", "d02", "d03", "d04"]
    row = scores.set_index(["model", "trial"]).loc[("n", 2)]
    assert cells.loc[("n", 2), "d02"] == pytest.approx(row["POD_centered"] - row["BEC_centered"])


@pytest.mark.parametrize("p, permutation_p, expected", [
    (0.001, 0.002, "the models take the side of the value they rate higher"),
    (0.01, 0.2, "significant at the 0.05 level by one test only"),
    (0.4, 0.5, "no evidence that the value profile predicts the side taken"),
    (0.01, float("nan"), "the models take the side of the value they rate higher"),
])
def test_verdict_follows_the_p_values(p, permutation_p, expected):
    from llmvalues.report_dilemmas import _verdict

    fits = pd.DataFrame([{"scope": POOLED, "outcome": "side", "slope": 0.5, "p": p, "permutation_p": permutation_p}])
    assert expected in _verdict(fits)


def test_report_section_describes_a_user_set():
    scores = scores_table(["m"], 2)
    dilemmas = dilemma_set(2)
    study = analyze(choices_from(scores, dilemmas, slope=1.0), scores, ["m"], dilemmas, permutations=0)
    settings = {"predictor": "profile", "confidence": 0.9, "permutations": 0}
    section = dilemma_section(study.metrics, study.fits, study.per_model, ["m"], settings=settings,
                              set_name="my set", set_original=False, set_validated=True, pairs=2, opposing_pairs=1)
    opening = section.blocks[0].text
    assert "supplied by the user, validated" in opening
    assert "another value (2 value pairs, 1 of them from opposing higher-order groups)" in opening
    assert "in each of 2 trials" in opening
    assert "mean centered profile" in opening


def test_value_difference_needs_no_mrat():
    scores = scores_table(["m"], 2)
    scores[[f"{code}_centered" for code in CIRCLE_ORDER]] = math.nan  # too few valid items for MRAT
    table = value_differences(choices_from(scores_table(["m"], 2), dilemma_set(2), slope=1.0), scores, "trial")
    row = scores.iloc[0]
    assert table.iloc[0]["value_diff"] == pytest.approx(row["SDA_raw"] - row["COR_raw"])


def test_position_adjusted_slope_removes_position_confound():
    # A model that follows position in half the answers and its values in the other half.
    scores = scores_table(["m", "n"], 10)
    dilemmas = dilemma_set()
    choices = choices_from(scores, dilemmas, slope=1.5)
    follower = choices_from(scores, dilemmas, slope=0.0, always_first=True)
    mixed = pd.concat([choices[choices["trial"] <= 5], follower[follower["trial"] > 5]], ignore_index=True)
    study = analyze(mixed, scores, ["m", "n"], dilemmas, permutations=0)
    fits = study.fits.set_index(["scope", "outcome"])
    adjusted = fits.loc[(POOLED, "side_position_adjusted")]
    plain = fits.loc[(POOLED, "side")]
    assert adjusted["slope"] > plain["slope"]
    terms = set(study.coefficients[study.coefficients["outcome"] == "side_position_adjusted"]["term"])
    assert {"a_shown_first[m]", "a_shown_first[n]"} <= terms
    assert study.metrics["pooled"]["side_position_adjusted"]["fitted"] is True
