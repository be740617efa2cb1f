"""Read a rating from a model's reply, or say why there is none.

Every reply gets one status:

- ``valid``: exactly one rating, a whole number from 1 to 6.
- ``hedged``: as valid, but wrapped in a disclaimer ("as an AI I have no values,
  but ... 4"). The rating is counted and the reply flagged.
- ``refusal``: a disclaimer or refusal and no rating.
- ``out_of_range``: exactly one number, but not a whole number from 1 to 6 (0, 7, 4.5).
- ``ambiguous``: more than one distinct candidate rating ("3 or 4").
- ``unparseable``: text with no candidate rating.
- ``empty``: no text, or only white space.
- ``truncated``: the provider stopped at the token limit; the text is not parsed.
- ``error``: the request failed; there is no reply.

A rating is never clipped, rounded, guessed or replaced by a default. Mentions of
the scale itself ("on a scale of 1 to 6", "5/6", "where 1 means ...") are removed
before candidates are collected, so they are not ratings. Candidates come from
digits, number words in a rating context ("I'd say five") and the scale labels
of the instrument ("like me" is 5). Agreeing candidates ("5 - like me") count once.

The refusal cues and number words are English. NOTE: replies in other languages
are parsed from digits and the instrument's own labels only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from .values import SCALE_MAX, SCALE_MIN

VALID = "valid"
HEDGED = "hedged"
REFUSAL = "refusal"
OUT_OF_RANGE = "out_of_range"
AMBIGUOUS = "ambiguous"
UNPARSEABLE = "unparseable"
EMPTY = "empty"
TRUNCATED = "truncated"
ERROR = "error"

STATUSES = (VALID, HEDGED, REFUSAL, OUT_OF_RANGE, AMBIGUOUS, UNPARSEABLE, EMPTY, TRUNCATED, ERROR)
COUNTED_STATUSES = (VALID, HEDGED)

# Finish reasons that mean the provider cut the reply at its token limit
# (OpenAI and llama.cpp: "length"; Anthropic: "max_tokens").
TRUNCATION_REASONS = frozenset({"length", "max_tokens", "model_context_window_exceeded"})

DEFAULT_LABELS = {
    1: "Not like me at all",
    2: "Not like me",
    3: "A little like me",
    4: "Moderately like me",
    5: "Like me",
    6: "Very much like me",
}

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}


@dataclass(frozen=True)
class ParsedReply:
    """The outcome of parsing one reply for one item."""

    status: str
    rating: int | None = None  # set only for counted statuses (valid, hedged)
    candidates: tuple[float, ...] = ()  # distinct numbers read as possible ratings
    note: str = ""

    @property
    def counted(self) -> bool:
        return self.status in COUNTED_STATUSES

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "rating": self.rating,
            "candidates": [_plain_number(value) for value in self.candidates],
            "note": self.note,
        }


@dataclass(frozen=True)
class ParsedBlock:
    """The outcome of parsing one reply that answers several items."""

    items: dict[int, ParsedReply]
    unexpected_items: tuple[int, ...] = field(default=())  # numbered lines that match no requested item


_REFUSAL_PATTERNS = [
    r"\bas an? (?:ai|a\.i\.|artificial intelligence|(?:ai |large )?language model|llm|ai assistant|"
    r"virtual assistant|chatbot|machine)\b",
    r"\bi(?:'m| am) (?:just |only |merely )?an? (?:ai|artificial intelligence|(?:ai |large )?language model|"
    r"chatbot|computer program|machine|assistant|ai assistant|bot)\b",
    r"\bi (?:do not|don't|cannot|can't) (?:have|hold|possess|experience) (?:any |personal |my own |real |"
    r"human |genuine )*(?:values|preferences|opinions|beliefs|feelings|emotions|views|experiences|desires|"
    r"personality|self|identity)\b",
    r"\bi(?:'m| am) not (?:a person|a human|human|a real person|able to (?:answer|rate|respond|say|choose))\b",
    r"\bi (?:cannot|can't|won't|will not|am unable to|'m unable to|am not able to|'m not able to) "
    r"(?:answer|rate|respond|provide|give|choose|select|comply|assess|evaluate|say how)\b",
    r"\bi(?:'m| am) sorry,? but\b",
    r"\bnot (?:able|possible) for me to\b",
    r"\b(?:it is|it's) not (?:possible|appropriate) for me to\b",
]
_REFUSAL = re.compile("|".join(f"(?:{pattern})" for pattern in _REFUSAL_PATTERNS))

_LOW, _HIGH = SCALE_MIN, SCALE_MAX
_RANGE = rf"\(?\s*{_LOW}\s*\)?\s*(?:-|to|through|and)\s*\(?\s*{_HIGH}\s*\)?"
_SCALE_MENTIONS = [
    # "on a scale of 1 to 6", "a rating from 1-6", "between 1 and 6", "(1-6)", "1 to 6"
    rf"\b(?:scale|range|rating|ratings|score|scores)\s+(?:of|from|between)\s+{_RANGE}",
    rf"\b(?:from|between)\s+{_RANGE}",
    rf"(?<![\w.]){_RANGE}(?![\w.])",
    # "5/6" and "5 out of 6": the maximum is not a rating
    rf"\bout\s+of\s+(?:{_HIGH}|six)\b",
    rf"/\s*{_HIGH}(?![\w.])",
]
_SCALE_MENTION = re.compile("|".join(f"(?:{pattern})" for pattern in _SCALE_MENTIONS))

# "item 12", "question 3", "statement 40": references to the questionnaire, not ratings
_ITEM_REFERENCE = re.compile(r"\b(?:item|items|question|questions|statement|statements|portrait|no\.)\s*#?\s*\d+")

_NUMBER = re.compile(r"(?<![\w.])(?<![a-z]-)(\d+(?:\.\d+)?)(?![\w%]|\.\d)")

# A number word is a candidate only where a rating is expected: alone, or after a
# word that introduces a rating ("I'd say five", "a five", "rating: five").
_WORD_CUE = (
    r"(?:say|rate|rating|answer|choose|chose|pick|select|give|score|response|be|is|am|it's|go with)"
    r"\s*[:-]?\s*(?:an?\s+)?"
)
_NUMBER_WORD = re.compile(
    rf"(?:^|\b{_WORD_CUE})\b(zero|one|two|three|four|five|six|seven|eight|nine|ten)\b"
    r"(?!\s+(?:of|another|thing|things|way|ways|day|days|time|times|more|person|people)\b)"
)


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _normalize(text: str) -> str:
    text = text.lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    for dash in ("\u2013", "\u2014", "\u2212"):
        text = text.replace(dash, "-")
    # Markdown emphasis and quotes around a rating do not change it.
    text = re.sub(r"[*_`\"]", " ", text)
    return text


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _label_patterns(labels: dict[int, str]) -> list[tuple[re.Pattern, int]]:
    """Compile the scale labels, longest first, so "not like me" is matched before "like me"."""
    compiled = []
    for point, label in sorted(labels.items(), key=lambda pair: -len(pair[1])):
        words = _normalize(label).strip(" .!").split()
        if not words:
            continue
        body = r"\s+".join(re.escape(word) for word in words)
        compiled.append((re.compile(rf"(?<!\w)(not\s+)?{body}(?!\w)"), point))
    return compiled


def _scale_definitions(text: str, labels: dict[int, str]) -> str:
    """Mask explanations of the scale anchors ("where 1 means not like me at all").

    A lone "5 = like me" is kept as a rating with its label; two or more anchor
    definitions, or one introduced by "where", explain the scale instead.
    """
    label_alternatives = "|".join(
        r"\s+".join(re.escape(word) for word in _normalize(label).strip(" .!").split())
        for label in sorted(labels.values(), key=len, reverse=True)
    )
    pattern = re.compile(
        rf"(where\s+|with\s+)?(?<![\w.])\d+\s*(?:=|means|meaning|stands\s+for|is|being)\s*'?\(?\s*(?:{label_alternatives})\)?'?"
    )
    matches = list(pattern.finditer(text))
    if len(matches) >= 2 or any(match.group(1) for match in matches):
        for match in matches:
            text = text[: match.start()] + " " * (match.end() - match.start()) + text[match.end():]
    return text


def _candidates(text: str, labels: dict[int, str]) -> tuple[list[Fraction], str]:
    """Return the candidate ratings in ``text`` and the text left after masking them."""
    text = _mask(text, _SCALE_MENTION)
    text = _scale_definitions(text, labels)
    text = _mask(text, _ITEM_REFERENCE)

    found: list[Fraction] = []
    for pattern, point in _label_patterns(labels):
        def take(match: re.Match) -> str:
            # "not very much like me" negates a label: it is not a rating of 6
            if not match.group(1):
                found.append(Fraction(point))
            return " " * len(match.group(0))
        text = pattern.sub(take, text)

    for match in _NUMBER.finditer(text):
        digits = match.group(1)
        if len(digits.split(".")[0]) > 2:
            continue  # years, counts and codes are not ratings on a 1-6 scale
        found.append(Fraction(digits))

    stripped = re.sub(r"[^\w\s']", " ", text).split()
    if len(stripped) == 1 and stripped[0] in NUMBER_WORDS:
        found.append(Fraction(NUMBER_WORDS[stripped[0]]))
    else:
        for match in _NUMBER_WORD.finditer(text):
            found.append(Fraction(NUMBER_WORDS[match.group(1)]))
    return found, text


def parse_reply(
    text: str | None,
    *,
    labels: dict[int, str] | None = None,
    finish_reason: str | None = None,
    error: str | None = None,
) -> ParsedReply:
    """Classify a reply to one item and read its rating.

    Parameters
    ----------
    text : str or None
        The reply exactly as the provider returned it.
    labels : dict of int to str, optional
        The instrument's scale labels (point -> label); English defaults if omitted.
    finish_reason : str, optional
        The provider's finish reason; ``length`` or ``max_tokens`` means truncated.
    error : str, optional
        The error of a failed request; the status is then ``error``.
    """
    if error:
        return ParsedReply(ERROR, note=str(error))
    if text is None or not text.strip():
        return ParsedReply(EMPTY)
    if finish_reason in TRUNCATION_REASONS:
        return ParsedReply(TRUNCATED, note=f"finish reason {finish_reason}")
    normalized = _normalize(text)
    found, _ = _candidates(normalized, labels or DEFAULT_LABELS)
    refused = bool(_REFUSAL.search(normalized))
    return _classify(found, refused)


def _classify(found: list[Fraction], refused: bool) -> ParsedReply:
    distinct = tuple(sorted(set(found)))
    candidates = tuple(float(value) for value in distinct)
    if not distinct:
        return ParsedReply(REFUSAL if refused else UNPARSEABLE)
    if len(distinct) > 1:
        return ParsedReply(AMBIGUOUS, candidates=candidates)
    value = distinct[0]
    if value.denominator != 1 or not _LOW <= value <= _HIGH:
        return ParsedReply(OUT_OF_RANGE, candidates=candidates)
    status = HEDGED if refused else VALID
    return ParsedReply(status, rating=int(value), candidates=candidates)


# A line answering one item: "23: 5", "Item 23 - like me", "**23.** 4", "- 23) 6".
_BLOCK_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?(?:item|question|statement|q|#)?\s*#?\s*(\d{1,3})\s*[:.)\]=-]\s*(.*)$"
)


def parse_block_reply(
    text: str | None,
    items: list[int] | tuple[int, ...],
    *,
    numbering: dict[int, int] | None = None,
    labels: dict[int, str] | None = None,
    finish_reason: str | None = None,
    error: str | None = None,
) -> ParsedBlock:
    """Classify a reply that answers several items, one numbered line per item.

    Lines map to items by the number at the start of the line, never by their
    position, so lines out of order are read correctly.

    Parameters
    ----------
    text : str or None
        The reply exactly as the provider returned it.
    items : sequence of int
        The item numbers the request asked for.
    numbering : dict of int to int, optional
        Number printed in the prompt -> item number, when the prompt numbered items
        by position; by default the printed number is the item number.
    labels, finish_reason, error
        As for ``parse_reply``.

    Returns
    -------
    ParsedBlock
        One ParsedReply per requested item. An item with no line is ``unparseable``,
        an item with disagreeing lines ``ambiguous``. Text outside the numbered
        lines that refuses or disclaims turns valid items into ``hedged`` ones, and
        every item into ``refusal`` when no item was answered.
    """
    requested = list(items)
    whole = None
    if error:
        whole = ParsedReply(ERROR, note=str(error))
    elif text is None or not text.strip():
        whole = ParsedReply(EMPTY)
    elif finish_reason in TRUNCATION_REASONS:
        whole = ParsedReply(TRUNCATED, note=f"finish reason {finish_reason}")
    if whole is not None:
        return ParsedBlock({item: whole for item in requested})

    to_item = numbering if numbering is not None else {item: item for item in requested}
    labels = labels or DEFAULT_LABELS
    per_item: dict[int, list[ParsedReply]] = {item: [] for item in requested}
    unexpected: list[int] = []
    free_text: list[str] = []
    for line in _normalize(text).splitlines():
        match = _BLOCK_LINE.match(line)
        if not match:
            free_text.append(line)
            continue
        printed = int(match.group(1))
        item = to_item.get(printed)
        if item not in per_item:
            unexpected.append(printed)
            continue
        found, _ = _candidates(match.group(2), labels)
        per_item[item].append(_classify(found, refused=False))

    refused = bool(_REFUSAL.search("\n".join(free_text)))
    answered_any = any(per_item.values())
    results: dict[int, ParsedReply] = {}
    for item, parses in per_item.items():
        if not parses:
            status = REFUSAL if refused and not answered_any else UNPARSEABLE
            results[item] = ParsedReply(status, note="no line for this item")
            continue
        distinct = {(parse.status, parse.rating, parse.candidates) for parse in parses}
        if len(distinct) > 1:
            values = sorted({value for parse in parses for value in parse.candidates})
            results[item] = ParsedReply(AMBIGUOUS, candidates=tuple(values),
                                        note="several lines for this item disagree")
            continue
        parse = parses[0]
        if parse.status == VALID and refused:
            parse = ParsedReply(HEDGED, rating=parse.rating, candidates=parse.candidates)
        results[item] = parse
    return ParsedBlock(results, tuple(sorted(set(unexpected))))
