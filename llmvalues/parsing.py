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
- ``empty``: no text, or only white space, and not cut at the token limit.
- ``truncated``: the provider stopped at the token limit (with or without text);
  the text is not parsed.
- ``error``: the request failed; there is no reply.

A rating is never clipped, rounded, guessed or replaced by a default; when in
doubt a reply is ambiguous or unparseable, never a rating. Mentions of the scale
itself ("on a scale of 1 to 6", "5/6", "a 6-point scale", "where 1 means ...", an
echo of the six labels) are removed before candidates are collected. Candidates
come from digits, number words and the scale labels of the instrument ("like me"
is 5), and a candidate counts only where a rating belongs:

- before it, the start of the reply, a line or a clause, or a word that introduces
  a rating ("I'd say 5", "rating: 5", "give it a 4");
- after it, the end of the clause, a label, or a word that explains it ("5 because");
- not rejected or questioned in its clause ("not 6", "never a 1", "6? No"), and for
  a label, not changed by the word before it ("really like me", "an AI like me").

Numbers inside running text ("a country with 3 key features") are therefore not
ratings. Agreeing candidates ("5 - like me") count once. A rating on another scale
("7/10") is out of range and is not converted. Context is read in a bounded window
around each candidate, so parsing time grows linearly with the reply's length.

The cue words, refusal patterns, label modifiers and number words are English.
NOTE: in replies in other languages, a digit counts only where punctuation sets it
apart ("Antwort: 4", "4."); other ratings there are left unparseable.
"""

from __future__ import annotations

import re
import unicodedata
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
    r"\b(?:as|being) an? (?:ai|a\.i\.|artificial intelligence|(?:ai |large )?language model|llm|ai assistant|"
    r"virtual assistant|chatbot|machine)\b",
    r"\ban ai (?:made|developed|created|trained|built) by\b",
    r"\bi(?:'m| am) (?:just |only |merely )?an? (?:ai|artificial intelligence|(?:ai |large )?language model|"
    r"chatbot|computer program|machine|assistant|ai assistant|bot)\b",
    r"\bi (?:do not|don't|cannot|can't) (?:really )?(?:have|hold|possess|experience) (?:a |any |personal |"
    r"my own |real |human |genuine )*(?:values|preferences|opinions|beliefs|feelings|emotions|views|"
    r"experiences|desires|personality|self|identity)\b",
    r"\bi(?:'m| am) not (?:a person|a human|human|a real person|able to (?:answer|rate|respond|say|choose))\b",
    r"\bi(?: cannot| can't| won't| will not| am unable to|'m unable to| am not able to|'m not able to) "
    r"(?:answer|rate|respond|provide|give|choose|select|comply|assess|evaluate|say how)\b",
    r"\bi(?:'m| am) sorry,? but\b",
    r"\bnot (?:able|possible) for me to\b",
    r"\b(?:it is|it's) not (?:possible|appropriate) for me to\b",
    r"\b(?:a |the )?(?:typical|average) (?:person|human)\b",
    r"\bmost (?:people|humans)\b",
]
_REFUSAL = re.compile("|".join(f"(?:{pattern})" for pattern in _REFUSAL_PATTERNS))

_LOW, _HIGH = SCALE_MIN, SCALE_MAX
_WORDS = "zero|one|two|three|four|five|six|seven|eight|nine|ten"
_NUMBER_TOKEN = rf"(?:\d+(?:\.\d+)?|{_WORDS})"
_LOW_TOKEN = rf"(?:{_LOW}|one)"
_HIGH_TOKEN = rf"(?:{_HIGH}|six)"
# An end of the range, optionally followed by its label in brackets: "1 (not like me at all)".
_END = r"\(?\s*{}\s*\)?(?:\s*\([^()]{{0,40}}\))?"
_RANGE = rf"{_END.format(_LOW_TOKEN)}\s*(?:-|to|through|and)\s*{_END.format(_HIGH_TOKEN)}"
_SCALE_MENTIONS = [
    # "on a scale of 1 to 6", "a rating from 1-6", "between one and six", "(1-6)", "1 to 6."
    rf"\b(?:scale|range|rating|ratings|score|scores|number)\s+(?:of|from|between)\s+{_RANGE}",
    rf"\b(?:from|between)\s+{_RANGE}",
    rf"(?<![\w.]){_RANGE}(?!\w|\.\d)",
    # "5/6", "5 out of 6" and "5 of 6": the maximum is not a rating
    rf"\bout\s+of\s+{_HIGH_TOKEN}\b",
    rf"(?<=\d)\s+of\s+{_HIGH}\b",
    rf"/\s*{_HIGH}(?![\w.])",
    # "a 6-point scale", "six point": the size of the scale
    rf"\b{_HIGH_TOKEN}\s*-?\s*(?:point|step|level)s?\b",
    # "6 is the highest", "with 1 being the lowest and 6 the highest"
    rf"\b{_NUMBER_TOKEN}\s+(?:(?:is|being|as|=)\s+)?(?:the\s+)?(?:highest|lowest|maximum|minimum|top|bottom|"
    rf"best|worst|most|least)\b",
]
_SCALE_MENTION = re.compile("|".join(f"(?:{pattern})" for pattern in _SCALE_MENTIONS))

# "7/10", "seven out of ten": a rating on some other scale, never converted
_OTHER_SCALE = re.compile(rf"(?<![\w.])({_NUMBER_TOKEN})\s*(?:/|out\s+of)\s*({_NUMBER_TOKEN})\b")

# "four and a half", "4 and a half", "four point five": fractions written in words
_WORD_FRACTION = re.compile(rf"\b({_NUMBER_TOKEN})\s+(?:and\s+a\s+half|point\s+({_WORDS}))\b")

# "item 12", "question 3", "item: 12": references to the questionnaire, not ratings
_ITEM_REFERENCE = re.compile(
    r"\b(?:item|items|question|questions|statement|statements|portrait|no\.)\s*[:#=]?\s*\d+"
)

# A number standing alone: not part of a word ("GPT-4", "3d"), a percentage or a compound
# ("5-star"). A minus sign counts only where it cannot be a range dash ("3-4").
_NUMBER = re.compile(r"(?<![\w.])(?<![a-z]-)(-?\d+(?:\.\d+)?)(?![\w%]|\.\d|-[a-z])")
_NUMBER_WORD = re.compile(rf"\b({_WORDS})\b(?!-[a-z])")

# How far back and ahead (in characters) a candidate's context is examined. Bounding
# it keeps parsing linear in the length of the reply.
_WINDOW = 80

# A candidate is read as a rating only where a rating belongs. Before it: the start of
# the reply, a line or a clause, or a word that introduces a rating ("I'd say 5",
# "rating: 5", "give it a 4"). After it: the end of the reply or clause, a label, or a
# word that explains it ("5 because ...").
_OPENING = re.compile(r"(?:^|[.!?:;,=(\[\n-]|\bbut)\s*(?:an?\s+)?$")
_CUE = re.compile(
    r"\b(?:say|said|rate|rated|rating|answer|choose|chose|pick|picked|select|selected|give|gave|giving|"
    r"score|response|go\s+with|going\s+with|be|is|am|it's|so|maybe|perhaps|probably|likely|about|around|"
    r"roughly|between|lean\s+towards?|settle\s+on|guess|like|i'm|i\s+am)"
    r"(?:\s+(?:it|this|that|myself|me|him|her|them|a|an|as|at|about|around))*\s*$"
)
_LINKED = re.compile(rf"{_NUMBER_TOKEN}\s*(?:or|and|to|-|/)\s*$")
_CLOSING = re.compile(
    r"^\s*(?:$|[.,;:!)\]}\n(/-]|because\b|since\b|as\b|given\b|here\b|overall\b|then\b|too\b|for\s+(?:me|this)\b|"
    rf"(?:or|and|to)\s+(?:an?\s+)?{_NUMBER_TOKEN}\b|and\s+(?:that|this|it)\b|i\s+(?:think|guess|suppose|would|'d)\b)"
)
_QUESTIONED = re.compile(r"^\s*\?")
# Words in the same clause before a candidate that reject or compare it: "not 6",
# "never a 1", "far from a 6", "more than 'a little like me'".
_REJECTION = re.compile(
    r"\b(?:not|never|no|nothing|hardly|barely|scarcely|except|than|above|below|beyond|instead\s+of|"
    r"rather\s+than|far\s+from|anything\s+but)\b|n't\b"
)
_CLAUSE_BREAK = re.compile(r"[.;!?,\n]|\s-\s|(?<!anything )\bbut\b")
# A word just before a label that changes its meaning ("really like me", "very like me").
_LABEL_MODIFIER = re.compile(
    r"\b(?:really|very|much|quite|rather|somewhat|slightly|fairly|pretty|little|bit|kind\s+of|sort\s+of|"
    r"partly|partially|mostly|largely|moderately|extremely|totally|completely|entirely|all|more|less|"
    r"most|least|so|too|exactly|just|at\s+all)\s*$"
)
# Words after which a label is a description ("this is like me", "sounds like me").
_LABEL_CUE = re.compile(r"\b(?:is|am|are|be|feels|seems|sounds|looks)\s*$")
# Determiners and verbs of choosing make "one" a pronoun: "this one", "choose one".
_DETERMINER = re.compile(r"\b(?:this|that|the|each|every|any|which|no|another|someone|anyone|everyone)\s*$")
_CHOICE = re.compile(r"\b(?:choose|chose|pick|picked|select|selected)\s*$")

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")
_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL)
_TAG = re.compile(r"</?[a-z][a-z_-]{0,20}>")


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _normalize(text: str) -> str:
    """Lower-case the reply and remove what never changes a rating.

    Full-width forms become plain ones (NFKC). Zero-width characters, emoji, markdown emphasis, quotes, a ``<think>...</think>``
    reasoning trace and tags such as ``<answer>`` go. En dashes, minus signs and
    arrows become '-', and an em dash becomes ' - '.
    """
    text = unicodedata.normalize("NFKC", _ZERO_WIDTH.sub("", text)).lower()
    # Emoji and other pictographs ("4 👍", the keycap "5️⃣") carry no rating.
    text = "".join(character for character in text
                   if unicodedata.category(character) != "So" and character not in "\ufe0f\u20e3")
    text = _THINKING.sub("\n", text)
    text = _TAG.sub("\n", text)
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    text = text.replace("\u2014", " - ")  # an em dash separates words, never joins them
    for dash in ("\u2013", "\u2212", "\u2192"):
        text = text.replace(dash, "-")
    text = re.sub(r"[*_`\"{}]", " ", text)
    return text


def _mask(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


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


def _scale_restatements(text: str, labels: dict[int, str]) -> list[tuple[int, int]]:
    """Find explanations of the scale: two or more "N - label of N" pairs, or one after "where".

    "1 - Not like me at all ... 6 - Very much like me" (a model echoing the scale) and
    "where 1 means not like me at all" are not ratings. A lone "5 - like me" is a
    rating with its label and is not returned.
    """
    pairs = []
    for body, point in _label_alternatives(labels):
        pattern = re.compile(
            rf"(where\s+|with\s+)?(?<![\w.]){point}\s*(?:=|:|-|\.|\)|means|meaning|stands\s+for|is|being)\s*"
            rf"'?\(?\s*{body}(?!\w)\)?'?"
        )
        pairs.extend(pattern.finditer(text))
    restated = len(pairs) >= 2 or any(match.group(1) for match in pairs)
    return [(match.start(), match.end()) for match in pairs] if restated else []


def _clause_before(text: str, start: int) -> str:
    window = text[max(0, start - _WINDOW):start]
    breaks = list(_CLAUSE_BREAK.finditer(window))
    return window[breaks[-1].end():] if breaks else window


def _stands_as_rating(text: str, start: int, end: int) -> bool:
    """Tell whether a candidate at text[start:end] sits where a rating belongs."""
    before = text[max(0, start - _WINDOW):start]
    if start <= _WINDOW and not text[:start].strip(" \t\n([{#>*+'-"):
        opened = True
    else:
        opened = bool(_OPENING.search(before) or _CUE.search(before) or _LINKED.search(before))
    return opened and bool(_CLOSING.match(text[end:end + _WINDOW]))


def _is_rejected(text: str, start: int, end: int) -> bool:
    """Tell whether the text rejects or questions the candidate ("not 6", "6? No")."""
    return bool(_REJECTION.search(_clause_before(text, start)) or _QUESTIONED.match(text[end:end + 2]))


def _is_list_marker(text: str, start: int, end: int, numbered_lines: int) -> bool:
    """Tell whether a number opens an item of a numbered list ("1. First, consider ...")."""
    line_start = text.rfind("\n", 0, start) + 1
    if text[line_start:start].strip(" \t*#>-") or numbered_lines < 2:
        return False
    return bool(re.match(r"[.)]\s*[a-z]", text[end:end + 3]))


@dataclass
class _Reading:
    """Candidate ratings found in a reply's text, and what was set aside."""

    ratings: list[Fraction] = field(default_factory=list)  # candidates standing where a rating belongs
    running_text: int = 0  # numbers inside running text, not read as ratings
    rejected: int = 0  # numbers or labels the reply rejects or questions ("not 6")
    other_scale: list[str] = field(default_factory=list)  # ratings such as "7/10"
    restated_scale: bool = False  # the reply explains or echoes the scale


def _read(text: str, labels: dict[int, str]) -> _Reading:
    """Collect the candidate ratings in a normalized reply."""
    reading = _Reading()

    for match in list(_OTHER_SCALE.finditer(text)):
        if _number_value(match.group(2)) != _HIGH:
            reading.other_scale.append(f"{match.group(1)}/{match.group(2)}")
            text = _blank(text, match.start(), match.end())
    for match in list(_WORD_FRACTION.finditer(text)):
        whole = _number_value(match.group(1))
        fraction = Fraction(1, 2) if match.group(2) is None else Fraction(NUMBER_WORDS[match.group(2)], 10)
        reading.ratings.append(whole + fraction)
        text = _blank(text, match.start(), match.end())

    text = _mask(text, _SCALE_MENTION)
    for start, end in _scale_restatements(text, labels):
        reading.restated_scale = True
        text = _blank(text, start, end)
    text = _mask(text, _ITEM_REFERENCE)

    for body, point in _label_alternatives(labels):
        for match in list(re.finditer(rf"(?<!\w){body}(?!\w)", text)):
            start, end = match.start(), match.end()
            before = text[max(0, start - _WINDOW):start]
            if _LABEL_MODIFIER.search(before) or _is_rejected(text, start, end):
                reading.rejected += 1
            elif _stands_as_rating(text, start, end) or (
                _LABEL_CUE.search(before) and _CLOSING.match(text[end:end + _WINDOW])
            ):
                reading.ratings.append(Fraction(point))
            text = _blank(text, start, end)

    numbered_lines = len(re.findall(r"(?m)^\s*\d{1,2}[.)]\s", text))
    for match in _NUMBER.finditer(text):
        digits = match.group(1)
        start, end = match.span(1)
        if len(digits.lstrip("-").split(".")[0]) > 2:
            continue  # years, counts and codes are not ratings on a 1-6 scale
        if _is_list_marker(text, start, end, numbered_lines):
            continue
        if _is_rejected(text, start, end):
            reading.rejected += 1
        elif _stands_as_rating(text, start, end):
            reading.ratings.append(Fraction(digits))
        else:
            reading.running_text += 1

    # A number word is ordinary language unless it appears where a rating belongs, and
    # "one" after a determiner ("this one") is a pronoun.
    for match in _NUMBER_WORD.finditer(text):
        start, end = match.span(1)
        before = text[max(0, start - _WINDOW):start]
        if match.group(1) == "one" and (_DETERMINER.search(before) or _CHOICE.search(before)):
            continue
        if _is_rejected(text, start, end):
            reading.rejected += 1
        elif _stands_as_rating(text, start, end):
            reading.ratings.append(Fraction(NUMBER_WORDS[match.group(1)]))
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
    whole = _whole_reply_status(text, finish_reason, error)
    if whole is not None:
        return whole
    normalized = _normalize(text)
    reading = _read(normalized, labels or DEFAULT_LABELS)
    return _classify(reading, refused=bool(_REFUSAL.search(normalized)))


def _whole_reply_status(text: str | None, finish_reason: str | None, error: str | None) -> ParsedReply | None:
    """Return the status that a whole reply gets before any parsing, if any."""
    if error:
        return ParsedReply(ERROR, note=str(error))
    blank = text is None or not _ZERO_WIDTH.sub("", text).strip()
    if finish_reason in TRUNCATION_REASONS:
        # A blank reply cut at the limit is truncated too: a reasoning model can spend
        # the whole budget on hidden reasoning tokens before writing any text.
        note = f"finish reason {finish_reason}" + (", no reply text" if blank else "")
        return ParsedReply(TRUNCATED, note=note)
    if blank:
        return ParsedReply(EMPTY)
    return None


def _classify(reading: _Reading, refused: bool) -> ParsedReply:
    """Turn the candidates of a reply into a status and, when counted, a rating."""
    if reading.other_scale:
        scales = ", ".join(reading.other_scale)
        return ParsedReply(OUT_OF_RANGE, note=f"rating on another scale: {scales}")
    if not reading.ratings:
        notes = []
        if reading.restated_scale:
            notes.append("the reply restates the answer scale")
        if reading.rejected:
            notes.append("the reply rejects or questions a rating")
        if reading.running_text:
            notes.append("numbers in running text, none given as a rating")
        return ParsedReply(REFUSAL if refused else UNPARSEABLE, note="; ".join(notes))
    distinct = tuple(sorted(set(reading.ratings)))
    candidates = tuple(float(value) for value in distinct)
    if len(distinct) > 1:
        return ParsedReply(AMBIGUOUS, candidates=candidates)
    value = distinct[0]
    if value.denominator != 1 or not _LOW <= value <= _HIGH:
        return ParsedReply(OUT_OF_RANGE, candidates=candidates)
    status = HEDGED if refused else VALID
    return ParsedReply(status, rating=int(value), candidates=candidates)


# A line answering one item: "23: 5", "Item 23 - like me", "**23.** 4", "- 23) 6",
# "(23) 5", "| 23 | 5 |", "23 5". The separator may be left out only before a digit.
_BLOCK_LINE = re.compile(
    r"^\s*(?:[-*+]\s+)?\|?\s*\(?(?:item|question|statement|q|#)?\s*#?\s*(\d{1,3})\s*"
    r"(?:[:.)\]=|>-]+\s*|\s+(?=\d))(.*?)\s*\|?\s*$"
)
# Several answers on one line, "1: 5, 2: 4" or "1: 5   2: 4": split before each further "N:".
_PAIR_BREAK = re.compile(r"(?:[,;]|\s{2,})\s*(?=(?:item|question|q|#)?\s*\d{1,3}\s*[:=)\]])")


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
    position, so lines out of order are read correctly. Several "N: rating" pairs
    on one line are split, and markdown table rows (``| 23 | 5 |``) are read.

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
        One ParsedReply per requested item. An item with no line is ``unparseable``.
        Lines that give no rating (an echoed item text) are set aside when another
        line for the same item gives one. Lines that disagree make the item
        ``ambiguous``. A disclaimer on an item's line, or in text outside the
        numbered lines, turns its valid rating into a ``hedged`` one; with no item
        answered, such text makes every item a ``refusal``. Six lines "1 - Not like
        me at all" ... "6 - Very much like me" echo the scale and are not answers.
    """
    requested = list(items)
    whole = _whole_reply_status(text, finish_reason, error)
    if whole is not None:
        return ParsedBlock({item: whole for item in requested})

    to_item = numbering if numbering is not None else {item: item for item in requested}
    labels = labels or DEFAULT_LABELS
    lines: list[tuple[int, str]] = []
    free_text: list[str] = []
    for line in _normalize(text).splitlines():
        # A line that explains the scale ("... (1 = not like me at all, 6 = very much
        # like me)") is masked before it is split into "N: rating" pairs.
        for start, end in _scale_restatements(line, labels):
            line = _blank(line, start, end)
        for piece in _PAIR_BREAK.split(line):
            match = _BLOCK_LINE.match(piece)
            if match:
                lines.append((int(match.group(1)), match.group(2)))
            else:
                free_text.append(piece)
    echo = _echoed_scale(lines, labels)

    per_item: dict[int, list[ParsedReply]] = {item: [] for item in requested}
    unexpected: list[int] = []
    for position, (printed, rest) in enumerate(lines):
        item = to_item.get(printed)
        if item not in per_item:
            unexpected.append(printed)
            continue
        if position in echo:
            per_item[item].append(ParsedReply(UNPARSEABLE, note="the reply restates the answer scale"))
            continue
        per_item[item].append(_classify(_read(rest, labels), refused=bool(_REFUSAL.search(rest))))

    refused = bool(_REFUSAL.search("\n".join(free_text)))
    answered_any = any(parse.candidates for parses in per_item.values() for parse in parses)
    results: dict[int, ParsedReply] = {}
    for item, parses in per_item.items():
        results[item] = _combine_lines(parses, refused, answered_any)
    return ParsedBlock(results, tuple(sorted(set(unexpected))))


def _echoed_scale(lines: list[tuple[int, str]], labels: dict[int, str]) -> set[int]:
    """Return the positions of lines 1-6 that each carry only their own scale label.

    All six together are an echo of the answer scale; fewer could be real answers.
    """
    own_label = {}
    for position, (printed, rest) in enumerate(lines):
        label = labels.get(printed)
        if label is not None and rest.strip(" .!") == _normalize(label).strip(" .!"):
            own_label.setdefault(printed, position)
    if len(own_label) == len(labels):
        return set(own_label.values())
    return set()


def _combine_lines(parses: list[ParsedReply], refused: bool, answered_any: bool) -> ParsedReply:
    """Combine the parses of every line that names one item into the item's result."""
    if not parses:
        status = REFUSAL if refused and not answered_any else UNPARSEABLE
        return ParsedReply(status, note="no line for this item")
    with_candidates = [parse for parse in parses if parse.candidates or parse.status == OUT_OF_RANGE]
    if with_candidates:
        parses = with_candidates
    distinct = {(parse.status, parse.rating, parse.candidates) for parse in parses}
    if len(distinct) > 1:
        values = sorted({value for parse in parses for value in parse.candidates})
        return ParsedReply(AMBIGUOUS, candidates=tuple(values), note="several lines for this item disagree")
    parse = parses[0]
    if parse.status == VALID and refused:
        return ParsedReply(HEDGED, rating=parse.rating, candidates=parse.candidates)
    return parse
