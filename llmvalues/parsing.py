"""Read a rating from a model's reply, or say why there is none.

Every reply gets one status:

- ``valid``: exactly one rating, a whole number from 1 to 6.
- ``hedged``: as valid, but wrapped in a disclaimer ("as an AI I have no values,
  but ... 4"). The rating is counted and the reply flagged.
- ``refusal``: a disclaimer or refusal and no rating.
- ``out_of_range``: exactly one number, but not a whole number from 1 to 6 (0, 7,
  4.5), or a rating on another scale ("7/10").
- ``ambiguous``: more than one distinct candidate rating ("3 or 4").
- ``unparseable``: text with no candidate rating.
- ``empty``: no text, or only white space.
- ``truncated``: the provider stopped at the token limit; the text is not parsed.
- ``error``: the request failed; there is no reply.

A rating is never clipped, rounded, guessed or replaced by a default. Mentions of
the scale itself ("on a scale of 1 to 6", "5/6", "where 1 means ...") are removed
before candidates are collected, so they are not ratings. Candidates come from
digits, number words and the scale labels of the instrument ("like me" is 5).
Agreeing candidates ("5 - like me") count once. A candidate must stand where a
rating belongs: at the start or end of the reply, alone on a line, or after a word
that introduces one ("I'd say 5", "rating: 5", "3 or 4"). A number inside running
text ("a country with 3 key features") never becomes a rating on its own. A label
that another word modifies or negates ("not really like me", "I can't say this is
like me") is not read as that label's rating. A rating on another scale ("7/10")
is out of range and is not converted.

The refusal cues, label modifiers and number words are English. NOTE: replies in
other languages are parsed from digits and the instrument's own labels only.
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
_WORDS = "zero|one|two|three|four|five|six|seven|eight|nine|ten"
_NUMBER_TOKEN = rf"(?:\d+(?:\.\d+)?|{_WORDS})"
# An end of the range, optionally followed by its label in brackets: "1 (not like me at all)".
_END = r"\(?\s*{}\s*\)?(?:\s*\([^()]{{0,40}}\))?"
_RANGE = rf"{_END.format(_LOW)}\s*(?:-|to|through|and)\s*{_END.format(_HIGH)}"
_SCALE_MENTIONS = [
    # "on a scale of 1 to 6", "a rating from 1-6", "between 1 and 6", "(1-6)", "1 to 6"
    rf"\b(?:scale|range|rating|ratings|score|scores)\s+(?:of|from|between)\s+{_RANGE}",
    rf"\b(?:from|between)\s+{_RANGE}",
    rf"(?<![\w.]){_RANGE}(?![\w.])",
    # "5/6", "5 out of 6" and "5 of 6": the maximum is not a rating
    rf"\bout\s+of\s+(?:{_HIGH}|six)\b",
    rf"(?<=\d)\s+of\s+{_HIGH}\b",
    rf"/\s*{_HIGH}(?![\w.])",
    # "a 6-point scale", "six-point": the size of the scale
    rf"\b(?:{_HIGH}|six)\s*-\s*(?:point|step|level)\b",
]
_SCALE_MENTION = re.compile("|".join(f"(?:{pattern})" for pattern in _SCALE_MENTIONS))

# "7/10", "seven out of ten": a rating on some other scale, never converted
_OTHER_SCALE = re.compile(rf"(?<![\w.])({_NUMBER_TOKEN})\s*(?:/|out\s+of)\s*({_NUMBER_TOKEN})\b")

# "four and a half", "4 and a half", "four point five": fractions written in words
_WORD_FRACTION = re.compile(rf"\b({_NUMBER_TOKEN})\s+(?:and\s+a\s+half|point\s+({_WORDS}))\b")

# "item 12", "question 3", "statement 40": references to the questionnaire, not ratings
_ITEM_REFERENCE = re.compile(r"\b(?:item|items|question|questions|statement|statements|portrait|no\.)\s*#?\s*\d+")

# A number standing alone: not part of a word ("GPT-4", "3d"), a percentage or a compound
# ("5-star"). A minus sign counts only where it cannot be a range dash ("3-4").
_NUMBER = re.compile(r"(?<![\w.])(?<![a-z]-)(-?\d+(?:\.\d+)?)(?![\w%]|\.\d|-[a-z])")
_NUMBER_WORD = re.compile(rf"\b({_WORDS})\b(?!-[a-z])")

# Words that introduce a rating ("I'd say 5", "rating: 5", "3 or 4"). A number after one
# of them, or at the very start or end of the reply, is read as a rating; a number in the
# middle of running text without one ("a country with 3 key features") is not trusted.
_CUE_BEFORE = re.compile(
    r"(?:\b(?:say|rate|rated|rating|answer|choose|chose|pick|picked|select|give|giving|score|response|"
    r"go\s+with|is|be|am|it's|so|maybe|perhaps|probably|about|around|roughly|between|or|and|to|an?)"
    r"(?:\s+(?:it|this|that|myself|me|a|an|as|at|about|around))*|[:=(\[#-])\s*$"
)
_LEADING = " \t\n([{#>:-*+'"
_TRAILING = " \t\n.!?)]}'"

# A word just before a label that changes its meaning ("not really like me", "very like
# me"), and negations earlier in the same clause ("I can't say this is like me").
_LABEL_MODIFIER = re.compile(
    r"\b(?:not|no|never|hardly|barely|scarcely|nothing|really|very|much|quite|rather|somewhat|"
    r"slightly|fairly|pretty|little|bit|kind\s+of|sort\s+of|partly|partially|mostly|largely|"
    r"moderately|extremely|totally|completely|entirely|all|more|less|most|least|so|too|exactly|just)\s*$"
)
_NEGATION = re.compile(r"\b(?:not|never|no|nothing|hardly|barely|scarcely)\b|n't\b")
_CLAUSE_START = re.compile(r".*(?:[.;!?\n]|\bbut\b)", re.DOTALL)

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _normalize(text: str) -> str:
    text = _ZERO_WIDTH.sub("", text).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    for dash in ("\u2013", "\u2014", "\u2212"):
        text = text.replace(dash, "-")
    # Markdown emphasis and quotes around a rating do not change it.
    text = re.sub(r"[*_`\"]", " ", text)
    return text


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _blank(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " * (match.end() - match.start()) + text[match.end():]


def _number_value(token: str) -> Fraction:
    return Fraction(NUMBER_WORDS[token]) if token in NUMBER_WORDS else Fraction(token)


def _label_alternatives(labels: dict[int, str]) -> list[tuple[str, int]]:
    """Return (regex, point) per label, longest first, so "not like me" wins over "like me"."""
    alternatives = []
    for point, label in sorted(labels.items(), key=lambda pair: -len(pair[1])):
        words = _normalize(label).strip(" .!").split()
        if words:
            alternatives.append((r"\s+".join(re.escape(word) for word in words), point))
    return alternatives


def _scale_definitions(text: str, labels: dict[int, str]) -> str:
    """Mask explanations of the scale anchors ("where 1 means not like me at all").

    A lone "5 = like me" is kept as a rating with its label; two or more anchor
    definitions, or one introduced by "where", explain the scale instead.
    """
    label_pattern = "|".join(body for body, _ in _label_alternatives(labels))
    pattern = re.compile(
        rf"(where\s+|with\s+)?(?<![\w.])\d+\s*(?:=|means|meaning|stands\s+for|is|being)\s*'?\(?\s*"
        rf"(?:{label_pattern})\)?'?"
    )
    matches = list(pattern.finditer(text))
    if len(matches) >= 2 or any(match.group(1) for match in matches):
        for match in matches:
            text = _blank(text, match)
    return text


def _label_is_plain(text: str, start: int) -> bool:
    """Tell whether the label starting at ``start`` is meant as written (not modified or negated)."""
    before = text[:start]
    if _LABEL_MODIFIER.search(before):
        return False
    clause = _CLAUSE_START.sub("", before)
    return not _NEGATION.search(clause)


def _is_cued(text: str, start: int, end: int) -> bool:
    """Tell whether the number at text[start:end] stands where a rating is expected."""
    if not text[:start].strip(_LEADING) or not text[end:].strip(_TRAILING):
        return True
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start: line_end if line_end >= 0 else len(text)]
    if not re.sub(r"[^\w]", "", line.replace(text[start:end], "", 1)):
        return True  # alone on its line
    return bool(_CUE_BEFORE.search(text[:start]))


@dataclass
class _Reading:
    """What a reply's text offers as ratings."""

    cued: list[Fraction] = field(default_factory=list)  # numbers and labels where a rating belongs
    uncued: list[Fraction] = field(default_factory=list)  # numbers inside running text
    other_scale: list[str] = field(default_factory=list)  # ratings such as "7/10"


def _read(text: str, labels: dict[int, str]) -> _Reading:
    """Collect the candidate ratings in a normalized reply."""
    reading = _Reading()

    for match in list(_OTHER_SCALE.finditer(text)):
        if _number_value(match.group(2)) != _HIGH:
            reading.other_scale.append(f"{match.group(1)}/{match.group(2)}")
            text = _blank(text, match)
    for match in list(_WORD_FRACTION.finditer(text)):
        whole = _number_value(match.group(1))
        fraction = Fraction(1, 2) if match.group(2) is None else Fraction(NUMBER_WORDS[match.group(2)], 10)
        reading.cued.append(whole + fraction)
        text = _blank(text, match)

    text = _mask(text, _SCALE_MENTION)
    text = _scale_definitions(text, labels)
    text = _mask(text, _ITEM_REFERENCE)

    for body, point in _label_alternatives(labels):
        for match in list(re.finditer(rf"(?<!\w){body}(?!\w)", text)):
            if _label_is_plain(text, match.start()):
                reading.cued.append(Fraction(point))
            text = _blank(text, match)

    for match in _NUMBER.finditer(text):
        digits = match.group(1)
        if len(digits.lstrip("-").split(".")[0]) > 2:
            continue  # years, counts and codes are not ratings on a 1-6 scale
        target = reading.cued if _is_cued(text, match.start(1), match.end(1)) else reading.uncued
        target.append(Fraction(digits))

    # A number word counts only where a rating is expected: "five", "I'd say five",
    # "three or four". Elsewhere ("one of my values") it is ordinary language.
    for match in _NUMBER_WORD.finditer(text):
        word = match.group(1)
        before = text[: match.start()]
        after = text[match.end():]
        alone = not before.strip(_LEADING) and not after.strip(_TRAILING)
        cued = _CUE_BEFORE.search(before) and not re.match(r"\s+(?:of|another|more|thing|things|way|ways|"
                                                             r"time|times|day|days|person|people)\b", after)
        linked = re.match(rf"\s*(?:or|to|and|-)\s*{_NUMBER_TOKEN}\b", after)
        if alone or cued or linked:
            reading.cued.append(Fraction(NUMBER_WORDS[word]))
    return reading


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
    if text is None or not _ZERO_WIDTH.sub("", text).strip():
        return ParsedReply(EMPTY)
    if finish_reason in TRUNCATION_REASONS:
        return ParsedReply(TRUNCATED, note=f"finish reason {finish_reason}")
    normalized = _normalize(text)
    reading = _read(normalized, labels or DEFAULT_LABELS)
    refused = bool(_REFUSAL.search(normalized))
    return _classify(reading, refused)


def _classify(reading: _Reading, refused: bool) -> ParsedReply:
    """Turn the candidates of a reply into a status and, when counted, a rating.

    Numbers in running text only count alongside a cued rating: with one, a differing
    number makes the reply ambiguous; alone, they make it unparseable, never a rating.
    """
    if reading.other_scale:
        scales = ", ".join(reading.other_scale)
        return ParsedReply(OUT_OF_RANGE, note=f"rating on another scale: {scales}")
    if not reading.cued:
        note = "numbers in running text, none given as a rating" if reading.uncued else ""
        return ParsedReply(REFUSAL if refused else UNPARSEABLE, note=note)
    distinct = tuple(sorted(set(reading.cued) | set(reading.uncued)))
    candidates = tuple(float(value) for value in distinct)
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
    elif text is None or not _ZERO_WIDTH.sub("", text).strip():
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
        per_item[item].append(_classify(_read(match.group(2), labels), refused=False))

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
