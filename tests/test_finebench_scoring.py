import pytest

from finebench.data.registry import get_dataset
from finebench.scoring.matching import named_classes
from finebench.scoring.metrics import finebench_closed_correct, finebench_inclusion_correct, relative_similarity
from finebench.scoring.parsing import finebench_answer


@pytest.mark.parametrize("output,answer", [
    ("<think>x</think><answer>Rose</answer>", "Rose"),
    ("<answer>first</answer> then <answer>second</answer>", "second"),  # the last complete block
    ("<answer><answer>inner</answer></answer>", "inner"),  # nested: the innermost
    ("< Answer >spaced</ ANSWER >", "spaced"),
    ("<answer>**Black Footed Albatross**.</answer>", "Black Footed Albatross"),
    ("<answer>Answer: `rose`</answer>", "rose"),
    ("<think>long reasoning</think> The bird is a Laysan Albatross", "The bird is a Laysan Albatross"),
    ("<think>reasoning</think><answer>cut off by the token limit", "cut off by the token limit"),
    ("just text", "just text"),
    ("", ""),
    ("<answer>玫瑰 🌹</answer>", "玫瑰 🌹"),
])
def test_finebench_answer(output, answer):
    assert finebench_answer(output) == answer


OPTIONS = ["pink primrose", "rose", "desert-rose", "tree mallow"]


def test_longest_name_claims_its_words_first():
    assert named_classes("pink primrose", OPTIONS) == {"pink primrose"}
    assert named_classes("it is a rose", OPTIONS) == {"rose"}
    assert named_classes("a primrose", OPTIONS) == set()  # whole words only: no "rose" inside "primrose"
    assert named_classes("desert-rose", OPTIONS) == {"desert-rose"}
    assert named_classes("PINK_PRIMROSE", OPTIONS) == {"pink primrose"}


def test_closed_world_needs_exactly_one_option():
    assert finebench_closed_correct("pink primrose", "pink primrose", OPTIONS)
    assert not finebench_closed_correct("pink primrose", "rose", OPTIONS)
    assert not finebench_closed_correct("rose or tree mallow", "rose", OPTIONS)
    assert not finebench_closed_correct(", ".join(OPTIONS), "rose", OPTIONS)
    assert not finebench_closed_correct("", "rose", OPTIONS)


def test_open_world_inclusion_needs_the_full_name_and_no_other_class():
    cars = get_dataset("car").class_names
    truth = "Ferrari 458 Italia Convertible 2012"
    assert finebench_inclusion_correct(f"It is a {truth}.", truth, cars)
    assert not finebench_inclusion_correct("Ferrari 458 Italia", truth, cars)  # released: correct
    assert not finebench_inclusion_correct(", ".join(cars), truth, cars)  # the all-classes exploit


def test_relative_similarity_by_hand():
    assert relative_similarity(1.0, 0.4) == 1.0
    assert relative_similarity(0.4, 0.4) == 0.0
    assert relative_similarity(0.1, 0.4) == 0.0  # worse than the bare word: clipped at zero
    assert relative_similarity(0.7, 0.4) == pytest.approx(0.5)
    assert relative_similarity(0.9, 1.0) == 0.0  # no headroom: nothing to measure
