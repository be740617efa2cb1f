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
    ("I'd rate it 4, since 3 things matter to me", VALID, 4),
    ("I give it 5 stars", UNPARSEABLE, None),
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


# Replies that mention a number or a label without giving it as a rating. Each once
# became a wrong rating; none may be read as one.
NOT_RATINGS = [
    # rejected or questioned numbers
    "Definitely not 1.", "Anything but 1.", "Never a 1.", "I would never choose 1.",
    "I wouldn't say 6.", "I would not give it a 6.", "Hmm, not 6.", "Not even close to 6.",
    "Far from a 6.", "6? No.", "Not a 5.", "Is it 4? No, I don't think so.",
    # "like me" in ordinary sentences
    "An AI like me doesn't have personal goals.", "It's hard for an AI like me to say.",
    "Language models like me don't have personal values or a self to compare.",
    "I'm not sure how to answer. Would you like me to rephrase the question?",
    "For an assistant like me, being helpful matters most.",
    "Someone like me would probably agree with this.",
    "AI models like me don't have personal values, so I can't rate this.",
    # "one" and 1 as ordinary words
    "I'd prefer not to answer this one.", "It's one aspect of life I don't care much about.",
    "Being rich is one goal I don't share.", "This value is one I hold dearly.", "I'm unable to choose one.",
    "Kindness is 1 of the most important things to me.", "I am 1 of many AI models.",
    "I'm sorry, I can't rate this one.",
    # numbers after words that do not introduce a rating
    "Family is my #1 priority!", "This matters to me 2 times more than money.",
    "I value this and 2 other things equally.", "I am an AI assistant based on Llama 3.",
    # the size of the scale
    "On a 6 point scale, I can't really decide.", "On a six point scale, hard to say.",
    "6 is the highest score, but I'm not sure where I fall.",
    # the scale echoed
    "1 - Not like me at all\n2 - Not like me\n3 - A little like me\n4 - Moderately like me\n"
    "5 - Like me\n6 - Very much like me",
]


@pytest.mark.parametrize("reply", NOT_RATINGS)
def test_mention_is_not_a_rating(reply):
    parsed = parse_reply(reply)
    assert not parsed.counted, parsed
    assert parsed.rating is None


@pytest.mark.parametrize("reply, rating", [
    ("Scale 1-6. Rating: 4", 4),
    ("Pick a number 1 to 6. I pick 4.", 4),
    ("With 1 being the lowest and 6 the highest, I'd say a 4.", 4),
    ("On a scale of one to six, I would rate this a four.", 4),
    ("I chose 4 because it's more than 'a little like me' but less than 'like me'.", 4),
    ("Answer: 5\n\nThe person has 2 main goals, and I share both.", 5),
    ('{"rating": 4}', 4),
    ('{"item": 12, "rating": 4}', 4),
    ("<answer>5</answer>", 5),
    ("<think>Item 3 asks about 2 things; maybe 6?</think>\nMy answer: 4", 4),
    ("I relate to that\u20145.", 5),
    ("4 \U0001F44D", 4),
    ("5\ufe0f\u20e3", 5),
    ("\u7b54\u6848\uff1a5", 5),  # full-width colon
    ("Certainly not a 6 \u2014 more like a 3.", 3),
    ("I'm not a 6, I'm a 5.", 5),
    ("No, this is very much like me.", 6),
    ("Hmm, I guess 2.", 2),
])
def test_rating_in_context(reply, rating):
    parsed = parse_reply(reply)
    assert parsed.counted, parsed
    assert parsed.rating == rating


@pytest.mark.parametrize("reply", [
    "Being an AI, I don't really have values of my own, but I'll say 4.",
    "As Claude, an AI made by Anthropic, I'd say 4.",
    "I don't have a personality, but 4.",
    "I'm unable to answer this, so 3.",
    "A typical person might say 4.",
])
def test_disclaimer_flags_rating_as_hedged(reply):
    parsed = parse_reply(reply)
    assert parsed.status == HEDGED
    assert parsed.rating in (3, 4)


def test_refusal_with_unable():
    assert parse_reply("I'm unable to answer this.").status == REFUSAL


def test_long_reply_parses_in_linear_time():
    # Context is examined in a bounded window around each candidate; a quadratic
    # scan would take minutes on this reply.
    reply = "I think about 3 things and like me sometimes, " * 3000 + "so 5"
    assert parse_reply(reply).rating == 5


def test_block_scale_echo_is_not_answers():
    echo = "1. Not like me at all\n2. Not like me\n3. A little like me\n4. Moderately like me\n5. Like me\n" \
           "6. Very much like me"
    block = parse_block_reply(echo, list(range(1, 58)))
    assert not any(parsed.counted for parsed in block.items.values())
    assert block.items[3].note == "the reply restates the answer scale"


def test_block_scale_explained_on_each_line():
    reply = "\n".join(f"{item}. Some statement (1 = not like me at all, 6 = very much like me)" for item in (1, 2, 3))
    block = parse_block_reply(reply, [1, 2, 3])
    assert not any(parsed.counted for parsed in block.items.values())


def test_block_scale_echo_then_answers():
    echo = "1 = Not like me at all\n2 = Not like me\n3 = A little like me\n4 = Moderately like me\n5 = Like me\n" \
           "6 = Very much like me\n\n"
    block = parse_block_reply(echo + "1. 4\n2. 2\n3. 6", [1, 2, 3])
    assert [block.items[item].rating for item in (1, 2, 3)] == [4, 2, 6]


def test_block_several_answers_on_one_line():
    block = parse_block_reply("1: 5, 2: 4; 3: 6   4: 1", [1, 2, 3, 4])
    assert [block.items[item].rating for item in (1, 2, 3, 4)] == [5, 4, 6, 1]


def test_block_markdown_table_and_json():
    table = "| Item | Rating |\n|---|---|\n| 1 | 5 |\n| 2 | 3 |"
    assert [parse_block_reply(table, [1, 2]).items[item].rating for item in (1, 2)] == [5, 3]
    json_lines = '{\n  "1": 4,\n  "2": 6\n}'
    assert [parse_block_reply(json_lines, [1, 2]).items[item].rating for item in (1, 2)] == [4, 6]


def test_block_echoed_items_before_answers():
    reply = "1. Being wealthy matters to them.\n2. Fairness matters to them.\n\nAnswers:\n1. 2\n2. 6"
    block = parse_block_reply(reply, [1, 2])
    assert [block.items[item].rating for item in (1, 2)] == [2, 6]


def test_block_line_refusal_and_disclaimer():
    block = parse_block_reply("1. 5\n2. As an AI, I cannot answer this one.\n3. As an AI I'd say 4", [1, 2, 3])
    assert [block.items[item].status for item in (1, 2, 3)] == [VALID, REFUSAL, HEDGED]
