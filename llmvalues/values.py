"""The structure of Schwartz's refined theory of basic values, as data.

Facts from Schwartz's PVQ-RR coding instructions (June 2021) and Schwartz et al.
(2012), "Refining the theory of basic individual values", Journal of Personality
and Social Psychology 103(4):663-688. The questionnaire has 57 items numbered
1-57, three per value, none reverse-keyed, answered on a 1-6 scale.
"""

from __future__ import annotations

from dataclasses import dataclass

N_ITEMS = 57
SCALE_MIN = 1
SCALE_MAX = 6


@dataclass(frozen=True)
class Value:
    """One of the 19 values of the refined theory."""

    code: str
    name: str
    items: tuple[int, int, int]
    goal: str


# In circle order: adjacent values are compatible, values across the circle conflict.
VALUES: tuple[Value, ...] = (
    Value("SDT", "Self-direction-thought", (1, 23, 39),
          "freedom to form one's own ideas and develop one's own abilities"),
    Value("SDA", "Self-direction-action", (16, 30, 56),
          "freedom to choose one's own actions and way of life"),
    Value("ST", "Stimulation", (10, 28, 43),
          "excitement, novelty, variety and challenge"),
    Value("HE", "Hedonism", (3, 36, 46),
          "pleasure and enjoyment for oneself"),
    Value("AC", "Achievement", (17, 32, 48),
          "personal success by the standards of one's society"),
    Value("POD", "Power-dominance", (6, 29, 41),
          "power through control over other people"),
    Value("POR", "Power-resources", (12, 20, 44),
          "power through control of money, goods and social resources"),
    Value("FAC", "Face", (9, 24, 49),
          "protecting one's public image, avoiding humiliation"),
    Value("SEP", "Security-personal", (13, 26, 53),
          "safety and stability in one's immediate surroundings"),
    Value("SES", "Security-societal", (2, 35, 50),
          "safety and stability of the wider society and state"),
    Value("TR", "Tradition", (18, 33, 40),
          "keeping cultural, family or religious customs"),
    Value("COR", "Conformity-rules", (15, 31, 42),
          "obeying rules, laws and formal duties"),
    Value("COI", "Conformity-interpersonal", (4, 22, 51),
          "avoiding upsetting or hurting other people"),
    Value("HUM", "Humility", (7, 38, 54),
          "seeing oneself as small in the larger scheme of things"),
    Value("BED", "Benevolence-dependability", (19, 27, 55),
          "being a reliable, trustworthy member of one's group"),
    Value("BEC", "Benevolence-care", (11, 25, 47),
          "devotion to the welfare of the people close to one"),
    Value("UNC", "Universalism-concern", (5, 37, 52),
          "equality, justice and protection for all people"),
    Value("UNN", "Universalism-nature", (8, 21, 45),
          "protecting the natural environment"),
    Value("UNT", "Universalism-tolerance", (14, 34, 57),
          "accepting and understanding people who differ from oneself"),
)

CIRCLE_ORDER: tuple[str, ...] = tuple(value.code for value in VALUES)
VALUE_BY_CODE: dict[str, Value] = {value.code: value for value in VALUES}

# Item number -> value code: the scoring key.
SCORING_KEY: dict[int, str] = {
    item: value.code for value in VALUES for item in value.items
}

# The ten values of the original theory, each the mean of the items of the
# refined values listed. Tradition takes in the humility items; face belongs to none.
BASIC_VALUES: dict[str, tuple[str, ...]] = {
    "self_direction": ("SDT", "SDA"),
    "stimulation": ("ST",),
    "hedonism": ("HE",),
    "achievement": ("AC",),
    "power": ("POD", "POR"),
    "security": ("SEP", "SES"),
    "conformity": ("COR", "COI"),
    "tradition": ("TR", "HUM"),
    "benevolence": ("BEC", "BED"),
    "universalism": ("UNN", "UNC", "UNT"),
}

# The four higher-order values, each the mean of the refined value scores listed.
HIGHER_ORDER_VALUES: dict[str, tuple[str, ...]] = {
    "openness_to_change": ("SDT", "SDA", "ST", "HE"),
    "self_enhancement": ("AC", "POD", "POR"),
    "conservation": ("SEP", "SES", "TR", "COR", "COI"),
    "self_transcendence": ("UNN", "UNC", "UNT", "BEC", "BED"),
}

# Values on the boundary between two higher-order values, reported on their own.
BOUNDARY_VALUES: tuple[str, ...] = ("HUM", "FAC")


def circle_angles_degrees() -> dict[str, float]:
    """Return each value's angle on the theoretical circle, 360/19 degrees apart in circle order."""
    step = 360.0 / len(CIRCLE_ORDER)
    return {code: index * step for index, code in enumerate(CIRCLE_ORDER)}


def _check_structure() -> None:
    items = sorted(SCORING_KEY)
    if items != list(range(1, N_ITEMS + 1)):
        raise AssertionError("the scoring key must cover items 1-57 exactly once")
    grouped = [code for codes in BASIC_VALUES.values() for code in codes]
    if sorted(grouped + ["FAC"]) != sorted(CIRCLE_ORDER):
        raise AssertionError("the basic values must cover every value but face, once each")


_check_structure()
