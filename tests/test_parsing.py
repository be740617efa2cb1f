import pytest

from llmvalues.parsing import (
    AMBIGUOUS,
    EMPTY,
    ERROR,
    HEDGED,
    OUT_OF_RANGE,
    REFUSAL,
    TRUNCATED,
    UNPARSEABLE,
    VALID,
    parse_block_reply,
    parse_reply,
)

# (reply, expected status, expected rating)
SINGLE_REPLIES = [
    # a bare digit, with white space and markup
    ("5", VALID, 5),
    (" 3\n", VALID, 3),
    ("**2**", VALID, 2),
    ("Rating: 6", VALID, 6),
    ("The answer is 5.0", VALID, 5),
    # a digit with its label, agreeing
    ("5 - Like me", VALID, 5),
    ("4 (Moderately like me)", VALID, 4),
    ("I rate this a 6 (very much like me).", VALID, 6),
    ("4 = moderately like me", VALID, 4),
    # the label alone
    ("Like me", VALID, 5),
    ("Very much like me.", VALID, 6),
    ("Not like me at all", VALID, 1),
    ("not like me", VALID, 2),
    ("A little like me", VALID, 3),
    ("This person is a little like me.", VALID, 3),
    # a rating written as a word
    ("Five", VALID, 5),
    ("I'd say five.", VALID, 5),
    ("My answer is two", VALID, 2),
    # mentions of the scale are not ratings
    ("On a scale of 1 to 6, I'd say 5", VALID, 5),
    ("On a scale from 1-6: 2", VALID, 2),
    ("5/6", VALID, 5),
    ("5 out of 6", VALID, 5),
    ("where 1 means not like me at all and 6 means very much like me, I'd pick 2", VALID, 2),
    ("1 = not like me at all, 6 = very much like me. My answer: 3", VALID, 3),
    # numbers that are not ratings
    ("GPT-4 would say 3", VALID, 3),
    ("Item 23: 4", VALID, 4),
    ("This is one of my core values, so 6.", VALID, 6),
    # two candidate ratings
    ("3 or 4", AMBIGUOUS, None),
    ("3-4", AMBIGUOUS, None),
    ("Somewhere between 2 and 3", AMBIGUOUS, None),
    ("4 - like me", AMBIGUOUS, None),
    # outside the scale: never clipped or rounded
    ("0", OUT_OF_RANGE, None),
    ("7", OUT_OF_RANGE, None),
    ("4.5", OUT_OF_RANGE, None),
    ("I'd say ten", OUT_OF_RANGE, None),
    # refusals
    ("As an AI, I don't have personal values.", REFUSAL, None),
    ("I'm sorry, but I can't answer that.", REFUSAL, None),
    ("As a language model I cannot rate myself on a scale of 1 to 6.", REFUSAL, None),
    # a rating wrapped in a disclaimer: counted and flagged
    ("As an AI, I don't have personal values, but if I had to choose I would say 4.", HEDGED, 4),
    ("I am an AI language model. Like me.", HEDGED, 5),
    # a label whose meaning another word changes is not that label's rating
    ("Not at all like me", UNPARSEABLE, None),
    ("Not really like me", UNPARSEABLE, None),
    ("Somewhat like me", UNPARSEABLE, None),
    ("Very like me", UNPARSEABLE, None),
    ("A little bit like me", UNPARSEABLE, None),
    ("I can't say this is like me", UNPARSEABLE, None),
    ("I'm not sure, but I'd say like me.", VALID, 5),
    ("2 - not really like me", VALID, 2),
    # number words linked to another number, and fractions in words
    ("three or four", AMBIGUOUS, None),
    ("between four and five", AMBIGUOUS, None),
    ("a four", VALID, 4),
    ("five and a half", OUT_OF_RANGE, None),
    ("4 and a half", OUT_OF_RANGE, None),
    # signs, other scales and compounds
    ("-1", OUT_OF_RANGE, None),
    ("6/10", OUT_OF_RANGE, None),
    ("Seven out of ten", OUT_OF_RANGE, None),
    ("On a 6-point scale, 4", VALID, 4),
    ("3 of 6", VALID, 3),
    ("On a scale from 1 (not like me at all) to 6 (very much like me), I'd say 5", VALID, 5),
    # numbers inside running text are not ratings on their own
    ("They want a safe country with 3 key features: police, army and borders. I relate somewhat.", UNPARSEABLE, None),
    ("I'd rate it 4, since 3 things matter to me", AMBIGUOUS, None),
    ("I give it 5 stars", VALID, 5),
    ("Answer:\n\n4\n\nThis reflects my priorities.", VALID, 4),
    # nothing to read
    ("", EMPTY, None),
    ("\u200b", EMPTY, None),
    ("   \n\t", EMPTY, None),
    ("That is an interesting question.", UNPARSEABLE, None),
    ("Not very much like me", UNPARSEABLE, None),
]


@pytest.mark.parametrize("reply, status, rating", SINGLE_REPLIES, ids=[repr(case[0]) for case in SINGLE_REPLIES])
def test_single_reply(reply, status, rating):
    parsed = parse_reply(reply)
    assert parsed.status == status
    assert parsed.rating == rating


def test_other_scale_is_named_in_the_note():
    parsed = parse_reply("I'd give it 7/10")
    assert parsed.status == OUT_OF_RANGE
    assert parsed.note == "rating on another scale: 7/10"


def test_uncued_number_is_explained():
    parsed = parse_reply("There are 3 reasons I relate to this.")
    assert parsed.status == UNPARSEABLE
    assert parsed.note == "numbers in running text, none given as a rating"


def test_out_of_range_keeps_the_number_unchanged():
    parsed = parse_reply("4.5")
    assert parsed.rating is None
    assert parsed.candidates == (4.5,)


def test_ambiguous_lists_both_candidates():
    assert parse_reply("3 or 4").candidates == (3.0, 4.0)


def test_none_reply_is_empty():
    assert parse_reply(None).status == EMPTY


def test_truncated_reply_is_not_parsed():
    parsed = parse_reply("5", finish_reason="length")
    assert parsed.status == TRUNCATED
    assert parsed.rating is None
    assert parse_reply("I think", finish_reason="max_tokens").status == TRUNCATED


def test_error_wins_over_text():
    parsed = parse_reply(None, error="HTTP 500")
    assert parsed.status == ERROR
    assert parsed.note == "HTTP 500"


def test_other_language_labels():
    labels = {1: "Pas du tout comme moi", 2: "Pas comme moi", 3: "Un peu comme moi",
              4: "Moyennement comme moi", 5: "Comme moi", 6: "Tout à fait comme moi"}
    assert parse_reply("Un peu comme moi", labels=labels).rating == 3
    assert parse_reply("Tout à fait comme moi", labels=labels).rating == 6
    assert parse_reply("Like me", labels=labels).status == UNPARSEABLE


def test_counted_flag():
    assert parse_reply("5").counted
    assert parse_reply("As an AI I have no values, but 5").counted
    assert not parse_reply("3 or 4").counted


def test_block_lines_out_of_order():
    reply = "Here are my answers:\n3: 4\n1: 5\n2. Like me\n"
    block = parse_block_reply(reply, [1, 2, 3])
    assert {item: parsed.rating for item, parsed in block.items.items()} == {1: 5, 2: 5, 3: 4}
    assert all(parsed.status == VALID for parsed in block.items.values())


def test_block_formats_of_a_line():
    reply = "Item 10 - 2\n**11.** 6\n- 12) not like me at all\nQuestion 13: 3"
    block = parse_block_reply(reply, [10, 11, 12, 13])
    assert [block.items[item].rating for item in (10, 11, 12, 13)] == [2, 6, 1, 3]


def test_block_missing_line_is_unparseable():
    block = parse_block_reply("1: 5\n3: 2", [1, 2, 3])
    assert block.items[2].status == UNPARSEABLE
    assert block.items[2].note == "no line for this item"


def test_block_statuses_per_line():
    block = parse_block_reply("1: 7\n2: 3 or 4\n3: no idea\n4: 4.5", [1, 2, 3, 4])
    assert [block.items[item].status for item in (1, 2, 3, 4)] == [OUT_OF_RANGE, AMBIGUOUS, UNPARSEABLE, OUT_OF_RANGE]


def test_block_disagreeing_lines_are_ambiguous():
    block = parse_block_reply("1: 5\n2: 3\n1: 2", [1, 2])
    assert block.items[1].status == AMBIGUOUS
    assert block.items[2].rating == 3


def test_block_repeated_agreeing_lines_count_once():
    block = parse_block_reply("1: 5\n1: 5", [1])
    assert block.items[1].status == VALID


def test_block_unexpected_item_is_reported():
    block = parse_block_reply("1: 5\n99: 3\n8: 2", [1])
    assert block.unexpected_items == (8, 99)


def test_block_disclaimer_hedges_the_ratings():
    block = parse_block_reply("As an AI I don't have personal values, but here goes:\n1: 5\n2: 3", [1, 2])
    assert [block.items[item].status for item in (1, 2)] == [HEDGED, HEDGED]
    assert block.items[1].rating == 5


def test_block_refusal_without_lines():
    block = parse_block_reply("As an AI, I cannot answer these questions.", [1, 2])
    assert [block.items[item].status for item in (1, 2)] == [REFUSAL, REFUSAL]


def test_block_position_numbering():
    # The prompt numbered the items 1, 2, 3 by position; they were items 40, 7, 12.
    block = parse_block_reply("1: 6\n2: 1\n3: 4", [40, 7, 12], numbering={1: 40, 2: 7, 3: 12})
    assert {item: parsed.rating for item, parsed in block.items.items()} == {40: 6, 7: 1, 12: 4}


@pytest.mark.parametrize("text, finish_reason, error, status", [
    ("", "stop", None, EMPTY),
    (None, None, None, EMPTY),
    ("1: 5\n2:", "length", None, TRUNCATED),
    (None, None, "timed out", ERROR),
])
def test_block_whole_reply_statuses(text, finish_reason, error, status):
    block = parse_block_reply(text, [1, 2], finish_reason=finish_reason, error=error)
    assert [parsed.status for parsed in block.items.values()] == [status, status]
