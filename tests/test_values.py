from llmvalues.values import (
    BASIC_VALUES,
    BOUNDARY_VALUES,
    CIRCLE_ORDER,
    HIGHER_ORDER_VALUES,
    SCORING_KEY,
    VALUE_BY_CODE,
    circle_angles_degrees,
)


def test_key_covers_each_item_once():
    assert sorted(SCORING_KEY) == list(range(1, 58))
    for code in CIRCLE_ORDER:
        assert sum(1 for value in SCORING_KEY.values() if value == code) == 3


def test_key_spot_checks():
    # From the PVQ-RR scoring key: SDT 1, 23, 39; UNT 14, 34, 57; POD 6, 29, 41.
    assert VALUE_BY_CODE["SDT"].items == (1, 23, 39)
    assert [SCORING_KEY[item] for item in (14, 34, 57)] == ["UNT"] * 3
    assert [SCORING_KEY[item] for item in (6, 29, 41)] == ["POD"] * 3


def test_circle_order_matches_theory():
    assert CIRCLE_ORDER == (
        "SDT", "SDA", "ST", "HE", "AC", "POD", "POR", "FAC", "SEP", "SES",
        "TR", "COR", "COI", "HUM", "BED", "BEC", "UNC", "UNN", "UNT",
    )


def test_circle_angles_are_evenly_spaced():
    angles = circle_angles_degrees()
    assert angles["SDT"] == 0.0
    assert abs(angles["UNT"] - 18 * 360 / 19) < 1e-12


def test_basic_values_group_refined_ones():
    assert len(BASIC_VALUES) == 10
    assert BASIC_VALUES["tradition"] == ("TR", "HUM")
    assert BASIC_VALUES["universalism"] == ("UNN", "UNC", "UNT")
    grouped = [code for codes in BASIC_VALUES.values() for code in codes]
    assert sorted(grouped) == sorted(set(CIRCLE_ORDER) - {"FAC"})


def test_higher_order_values_leave_out_boundary_values():
    grouped = [code for codes in HIGHER_ORDER_VALUES.values() for code in codes]
    assert len(grouped) == len(set(grouped)) == 17
    assert sorted(set(CIRCLE_ORDER) - set(grouped)) == sorted(BOUNDARY_VALUES)
