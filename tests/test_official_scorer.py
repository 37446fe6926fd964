"""The `official` protocol against an independent re-implementation of PROTOCOL.md.

The reference below is written from the protocol's prose, not from finebench's code:
first "<answer>" to last "</answer>", stripped; closed = case- and underscore-folded
substring; open = the answer if non-empty else the whole output, with cars truncated.
"""

import random

import pytest

from finebench.scoring.metrics import official_closed_correct, official_inclusion_correct, official_open_text
from finebench.scoring.parsing import official_answer


def reference_answer(output):
    start = output.find("<answer>")
    if start == -1:
        return None
    end = output.rfind("</answer>")
    if end < start + len("<answer>"):
        return None
    return output[start + len("<answer>"):end].strip()


def reference_closed(output, truth):
    answer = reference_answer(output)
    if not answer:
        return False
    return truth.lower().replace("_", " ") in answer.lower().replace("_", " ")


def reference_inclusion(output, truth, dataset):
    answer = reference_answer(output)
    text = answer if answer else output
    if dataset == "car":
        needle = " ".join(truth.lower().split()[:-2])
    else:
        needle = truth.lower().replace("_", " ")
    return needle in text.lower()


TRUTHS = [("flower", "rose"), ("flower", "pink primrose"), ("bird", "Black Footed Albatross"),
          ("car", "Ferrari 458 Italia Coupe 2012"), ("dog", "Maltese Dog"), ("aircraft", "Boeing 737-800"),
          ("pet", "American Pit Bull Terrier")]
FRAGMENTS = ["<answer>", "</answer>", "<think>", "</think>", "<ANSWER>", " ", "\n", "rose", "pink primrose",
             "Black_Footed_Albatross", "black footed albatross", "Ferrari 458 Italia", "Ferrari 458 Italia Coupe 2012",
             "Ferrari FF Coupe 2012", "maltese dog", "Maltese", "Boeing 737-800", "737-800", "american pit bull",
             "American_Pit_Bull_Terrier", "**", "Answer:", "é", "玫瑰", "🌹", "", "<answer><answer>", "</answer></answer>",
             "the answer is", "x" * 300]


def generated_outputs(count=4000, seed=7):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 9)))


HAND_CASES = ["", "no tags at all rose", "<answer>rose</answer>", "<answer></answer>rose", "<answer> </answer>",
              "<answer>a</answer> middle <answer>rose</answer>", "</answer> rose <answer>", "<answer>rose",
              "<answer><answer>rose</answer></answer>", "<think>rose</think><answer>tulip</answer>",
              "<ANSWER>rose</ANSWER>", "<answer>Pink_Primrose</answer>", "<answer>" + "a" * 100_000 + "rose</answer>"]


@pytest.mark.parametrize("dataset,truth", TRUTHS)
def test_official_scorer_matches_the_protocol_on_generated_outputs(dataset, truth):
    for output in [*HAND_CASES, *generated_outputs()]:
        assert official_answer(output) == reference_answer(output), output
        assert official_closed_correct(official_answer(output), truth) == reference_closed(output, truth), output
        text = official_open_text(official_answer(output), output)
        assert official_inclusion_correct(text, truth, dataset) == reference_inclusion(output, truth, dataset), output


def test_the_released_flaws_are_reproduced():
    assert official_closed_correct(official_answer("<answer>pink primrose</answer>"), "rose")
    every = "<answer>Maltese Dog, Shih Tzu, Pekinese, Miniature Poodle</answer>"
    assert official_closed_correct(official_answer(every), "Maltese Dog")
    # cars: the type and year are never checked, so a coupe answer passes for the convertible
    assert official_inclusion_correct("Ferrari 458 Italia Coupe 2012", "Ferrari 458 Italia Convertible 2012", "car")
    # no tag: wrong in the closed world, but the whole output is searched in the open world
    assert not official_closed_correct(official_answer("rose"), "rose")
    assert official_inclusion_correct(official_open_text(official_answer("it is a rose"), "it is a rose"), "rose",
                                      "flower")
