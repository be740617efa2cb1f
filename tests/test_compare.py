"""Comparisons with human norms and between models: R references and constructed answers."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from llmvalues.compare import correct_p_values, hierarchy_agreement, place_among_groups, versus_norms
from llmvalues.model_differences import value_tests
from llmvalues.values import CIRCLE_ORDER

DATA = Path(__file__).parent / "data"
CODES = list(CIRCLE_ORDER)

# R 4.2.2 Patched: oneway.test(y ~ group, var.equal=FALSE); kruskal.test(y ~ group) on groups3.csv.
R_WELCH_F = 2.2618267108893
R_WELCH_DF1 = 2
R_WELCH_DF2 = 14.1276016583473
R_WELCH_P = 0.140548348812912
R_KRUSKAL_H = 5.25215053763441
R_KRUSKAL_DF = 2
R_KRUSKAL_P = 0.0723619066849142

HUMAN = pd.Series(np.linspace(-1.2, 0.9, 19), index=CODES)


@pytest.fixture(scope="module")
def groups3():
    table = pd.read_csv(DATA / "groups3.csv").rename(columns={"group": "model", "y": "V"})
    return value_tests(table, ["g1", "g2", "g3"])[0].iloc[0]


def test_welch_f_matches_r(groups3):
    assert groups3["welch_f"] == pytest.approx(R_WELCH_F, abs=1e-10)


def test_welch_df_match_r(groups3):
    assert groups3["welch_df1"] == R_WELCH_DF1
    assert groups3["welch_df2"] == pytest.approx(R_WELCH_DF2, abs=1e-10)


def test_welch_p_matches_r(groups3):
    assert groups3["welch_p"] == pytest.approx(R_WELCH_P, abs=1e-10)


def test_kruskal_matches_r(groups3):
    assert groups3["kruskal_h"] == pytest.approx(R_KRUSKAL_H, abs=1e-10)
    assert groups3["kruskal_df"] == R_KRUSKAL_DF
    assert groups3["kruskal_p"] == pytest.approx(R_KRUSKAL_P, abs=1e-10)


def model_scores(means: pd.Series, n_trials: int, seed: int, spread: float = 0.3) -> pd.DataFrame:
    """Trials whose mean per value equals ``means`` exactly: noise with its mean removed."""
    noise = np.random.default_rng(seed).normal(scale=spread, size=(n_trials, len(means)))
    noise -= noise.mean(axis=0)
    return pd.DataFrame(means.to_numpy() + noise, columns=list(means.index))


def test_profile_equal_to_humans():
    table = versus_norms(model_scores(HUMAN, 10, seed=1), HUMAN)
    assert np.allclose(table["difference"], 0.0, atol=1e-12)
    assert np.allclose(table["t"], 0.0, atol=1e-9)
    assert (table["p"] > 0.999).all()


def test_hierarchy_equal_to_humans():
    agreement = hierarchy_agreement(model_scores(HUMAN, 10, seed=2, spread=0.01), HUMAN, bootstrap=200, seed=3)
    assert agreement["rho"] == pytest.approx(1.0)
    assert agreement["distance"] == pytest.approx(0.0, abs=1e-12)
    assert agreement["rho_ci"][0] > 0.95


def test_reversed_hierarchy():
    agreement = hierarchy_agreement(model_scores(-HUMAN, 10, seed=4, spread=0.01), HUMAN, bootstrap=50, seed=5)
    assert agreement["rho"] == pytest.approx(-1.0)


def test_t_test_values():
    scores = pd.DataFrame({"SDT": [1.0, 2.0, 3.0, 4.0]})
    row = versus_norms(scores, pd.Series({"SDT": 1.0})).iloc[0]
    assert row["difference"] == pytest.approx(1.5)
    assert row["t"] == pytest.approx(1.5 / (np.std([1, 2, 3, 4], ddof=1) / 2))
    assert row["df"] == 3
    assert row["d_model_sd"] == pytest.approx(1.5 / np.std([1, 2, 3, 4], ddof=1))


def test_human_sd_gives_second_d():
    scores = pd.DataFrame({"SDT": [1.0, 2.0, 3.0, 4.0]})
    row = versus_norms(scores, pd.Series({"SDT": 1.0}), pd.Series({"SDT": 0.5})).iloc[0]
    assert row["d_human_sd"] == pytest.approx(3.0)


def test_constant_value_noted_not_raised():
    scores = model_scores(HUMAN, 10, seed=6)
    scores["HUM"] = 0.25
    table = versus_norms(scores, HUMAN).set_index("value")
    assert math.isnan(table.loc["HUM", "t"])
    assert "no variance" in table.loc["HUM", "note"]
    assert table.loc["HUM", "difference"] == pytest.approx(0.25 - HUMAN["HUM"])
    assert table["p_corrected"].notna().sum() == 18


def test_holm_over_tested_values():
    p_values = pd.Series([0.01, 0.04, math.nan, 0.03])
    corrected = correct_p_values(p_values, "holm")
    assert corrected.tolist()[:2] == pytest.approx([0.03, 0.06])
    assert math.isnan(corrected[2])
    assert corrected[3] == pytest.approx(0.06)


def test_bh_correction():
    corrected = correct_p_values(pd.Series([0.01, 0.04, 0.03]), "bh")
    assert corrected.tolist() == pytest.approx([0.03, 0.04, 0.04])


def test_unknown_correction_rejected():
    with pytest.raises(ValueError, match="holm, bh"):
        correct_p_values(pd.Series([0.1]), "bonferroni")


def two_model_table(seed: int, n_trials: int = 10, columns=("SDT", "SDA", "ST")) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    frames = []
    for model in ("a", "b"):
        frame = pd.DataFrame(generator.normal(size=(n_trials, len(columns))), columns=list(columns))
        frame.insert(0, "model", model)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def test_null_rate_near_nominal():
    # Two models drawn from one distribution: about 5% of tests reject at 0.05.
    # Many columns per call, because every call runs statsmodels' corrections, which are slow.
    welch, kruskal = [], []
    columns = [f"V{index}" for index in range(100)]
    for seed in range(9):
        table = value_tests(two_model_table(seed, columns=columns), ["a", "b"], pairs=False)[0]
        welch += list(table["welch_p"] < 0.05)
        kruskal += list(table["kruskal_p"] < 0.05)
    assert 0.03 < np.mean(welch) < 0.07
    assert 0.02 < np.mean(kruskal) < 0.07


def test_separated_models_differ():
    table = two_model_table(1)
    table.loc[table["model"] == "b", "SDT"] += 5.0
    result = value_tests(table, ["a", "b"])[0].set_index("value")
    assert result.loc["SDT", "welch_p_corrected"] < 0.001
    assert result.loc["SDT", "kruskal_p"] < 0.001


def test_pairs_in_model_order():
    table = two_model_table(2)
    table.loc[table["model"] == "a", "SDT"] += 1.0
    pairs = value_tests(table, ["b", "a"])[1]
    sdt = pairs[pairs["value"] == "SDT"].iloc[0]
    assert (sdt["first"], sdt["second"]) == ("b", "a")
    expected = table.loc[table["model"] == "b", "SDT"].mean() - table.loc[table["model"] == "a", "SDT"].mean()
    assert sdt["mean_difference"] == pytest.approx(expected)


def test_constant_model_keeps_kruskal():
    table = two_model_table(3)
    table.loc[table["model"] == "b", "SDT"] = 1.0
    result, pairs = value_tests(table, ["a", "b"])
    row = result.set_index("value").loc["SDT"]
    assert math.isnan(row["welch_f"])
    assert not math.isnan(row["kruskal_h"])
    assert "no variance across trials for b" in row["note"]
    assert "SDT" not in set(pairs["value"])


def test_single_model_noted():
    table = two_model_table(4)
    result = value_tests(table[table["model"] == "a"], ["a"])[0]
    assert result["note"].eq("needs scores from at least 2 models").all()
    assert result["welch_p"].isna().all()


def test_all_equal_scores_noted():
    table = two_model_table(5)
    table["SDA"] = 0.0
    row = value_tests(table, ["a", "b"])[0].set_index("value").loc["SDA"]
    assert row["note"] == "every trial of every model has the same score"
    assert math.isnan(row["kruskal_h"])


def test_groups_placement():
    groups = pd.DataFrame({"SDT": [0.0, 1.0, 2.0], "SDA": [0.0, 1.0, 2.0]}, index=["low", "middle", "high"])
    placement = place_among_groups(pd.Series({"SDT": 1.0, "SDA": 1.9}), groups)
    assert placement["percentiles"]["SDT"] == pytest.approx(50.0)
    assert placement["percentiles"]["SDA"] == pytest.approx(200.0 / 3)
    assert placement["nearest_group"] == "middle"


# --- The study-level assembly and its report section ----------------------------


def study_scores_table(offsets: dict[str, float], n_trials: int = 12) -> pd.DataFrame:
    """Scores of models whose centered profiles are the human means plus an offset on SDT (and noise)."""
    rows = []
    for position, (model, offset) in enumerate(offsets.items()):
        centered = model_scores(HUMAN, n_trials, seed=40 + position, spread=0.2)
        centered["SDT"] += offset
        for trial in range(n_trials):
            row = {"model": model, "trial": trial + 1, "mrat": 3.5}
            for code in CODES:
                row[f"{code}_centered"] = centered.loc[trial, code]
                row[f"{code}_raw"] = centered.loc[trial, code] + 3.5
            rows.append(row)
    return pd.DataFrame(rows)


def shipped_like_norms():
    from llmvalues.norms import Norms

    rows = pd.DataFrame({"group": "", "value": CODES, "mean": HUMAN.to_numpy(), "sd": math.nan})
    return Norms(path="norms.csv", source="test", citation="test", metric="centered", caveats=[], rows=rows,
                 means=HUMAN)


def test_study_flags_shifted_value():
    from llmvalues.compare_study import analyze_compare

    study = analyze_compare(study_scores_table({"a": 0.0, "b": 1.5}), ["a", "b"], shipped_like_norms(),
                            correction="holm", bootstrap=50, seed=1, lda_solver="auto", lda_permutations=10)
    assert study.metrics["models"]["b"]["values_above_humans"] == ["SDT"]
    assert study.metrics["models"]["a"]["values_above_humans"] == []
    assert "SDT" in study.metrics["between_models"]["values_differing_welch"]
    assert study.metrics["discriminant"]["fitted"] is True
    assert study.metrics["discriminant"]["loo_accuracy"] == 1.0


def test_study_single_model_no_lda():
    from llmvalues.compare_study import analyze_compare

    study = analyze_compare(study_scores_table({"a": 0.0}), ["a"], shipped_like_norms(), correction="bh",
                            bootstrap=10, seed=1, lda_solver="auto", lda_permutations=0)
    assert study.discriminant is None
    assert "at least 2 groups" in study.metrics["discriminant"]["reason"]
    assert study.value_tests["note"].eq("needs scores from at least 2 models").all()


def test_report_section_lists_shifted_value():
    from llmvalues.compare_study import analyze_compare
    from llmvalues.document import Table
    from llmvalues.report_compare import compare_section, discriminant_section

    study = analyze_compare(study_scores_table({"a": 0.0, "b": 1.5}), ["a", "b"], shipped_like_norms(),
                            correction="holm", bootstrap=20, seed=1, lda_solver="auto", lda_permutations=0,
                            confidence=0.9)
    confusion = study.discriminant.confusion_matrix.reset_index()
    section = compare_section(study.metrics, study.norms, study.value_tests, ["a", "b"])
    tables = [block for block in section.blocks if isinstance(block, Table)]
    assert tables[0].header[2] == "a difference [90% CI]"
    indexed = study.norms.set_index(["model", "value"])
    sdt = indexed.loc[("b", "SDT")]
    assert tables[0].rows[0][5] == (f"{sdt['difference']:.2f} [{sdt['ci_lower']:.2f}, {sdt['ci_upper']:.2f}]")
    hierarchy = tables[1].rows
    assert tables[1].header[1] == "rho [90% CI]"
    assert hierarchy[1][0] == "b"
    assert hierarchy[1][3] == "SDT"
    lda_tables = [block for block in discriminant_section(study.metrics, confusion).blocks
                  if isinstance(block, Table)]
    assert lda_tables[-1].rows == [["a", "12", "0"], ["b", "0", "12"]]


def test_study_places_models_among_groups():
    from llmvalues.compare_study import analyze_compare
    from llmvalues.norms import Norms

    rows = pd.concat([
        pd.DataFrame({"group": group, "value": CODES, "mean": (HUMAN + shift).to_numpy(), "sd": math.nan})
        for group, shift in (("north", -0.5), ("middle", 0.0), ("south", 0.5))
    ], ignore_index=True)
    norms = Norms(path="groups.csv", source="test", citation="test", metric="centered", caveats=[], rows=rows,
                  means=HUMAN)
    study = analyze_compare(study_scores_table({"a": 0.0, "b": 0.0}), ["a", "b"], norms, correction="holm",
                            bootstrap=10, seed=1, lda_solver="auto", lda_permutations=0)
    assert study.metrics["models"]["a"]["groups"]["nearest_group"] == "middle"
    placement = study.group_placement()
    nearest = placement[placement["nearest"]]
    assert nearest["group"].tolist() == ["middle", "middle"]
    assert placement.loc[(placement["model"] == "a") & (placement["value"] == "SDT"), "percentile"].item() == \
        pytest.approx(50.0)


def test_study_reports_lda_baselines():
    from llmvalues.compare_study import analyze_compare

    scores = study_scores_table({"a": 0.0, "b": 0.0})
    scores.loc[scores["model"] == "b", [f"{code}_raw" for code in CODES]] += 1.0  # b rates everything higher
    scores["mrat"] += np.random.default_rng(7).normal(scale=0.1, size=len(scores))
    scores.loc[scores["model"] == "b", "mrat"] += 1.0
    study = analyze_compare(scores, ["a", "b"], shipped_like_norms(), correction="holm", bootstrap=0, seed=1,
                            lda_solver="auto", lda_permutations=0)
    lda = study.metrics["discriminant"]
    assert lda["loo_accuracy"] == 1.0
    assert lda["loo_accuracy_mrat_only"] == 1.0
    assert lda["loo_accuracy_centered"] < 0.8


def test_difference_interval_matches_t_test():
    # By hand: mean 2.75, SD sqrt(35/12), so 2.75 -/+ qt(0.975, 3) * SD / 2 = [0.0324691, 5.4675309]; minus mu = 1.
    scores = pd.DataFrame({"SDT": [1.0, 2.0, 3.0, 5.0]})
    row = versus_norms(scores, pd.Series({"SDT": 1.0})).iloc[0]
    assert row["ci_lower"] == pytest.approx(-0.9675309, abs=1e-6)
    assert row["ci_upper"] == pytest.approx(4.4675309, abs=1e-6)
    wider = versus_norms(scores, pd.Series({"SDT": 1.0}), confidence=0.99).iloc[0]
    assert wider["ci_lower"] < row["ci_lower"]
    assert wider["ci_upper"] > row["ci_upper"]
    constant = versus_norms(pd.DataFrame({"SDT": [2.0, 2.0, 2.0]}), pd.Series({"SDT": 1.0})).iloc[0]
    assert math.isnan(constant["ci_lower"])
