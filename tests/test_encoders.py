"""Relative similarity with a real offline encoder (all-MiniLM-L6-v2), caching and loading."""

import threading

import numpy as np
import pytest

from finebench.errors import FinebenchError
from finebench.scoring import encoders
from finebench.scoring.encoders import load_encoder
from finebench.scoring.scoring import score_open_batch


@pytest.fixture(scope="module")
def minilm():
    return load_encoder("minilm")


def doc(truth, dataset="bird", word="bird", official_word="object"):
    return {"sample_id": f"{dataset}/x", "dataset": dataset, "split": "seen", "ground_truth": truth,
            "super_category": word, "official_super_category": official_word}


def test_hand_checked_relative_similarity(minilm):
    truth = "Laysan Albatross"
    exact, near, word, far = score_open_batch(
        [doc(truth)] * 4,
        ["<answer>Laysan Albatross</answer>", "<answer>Black Footed Albatross</answer>",
         "<answer>bird</answer>", "<answer>Ferrari FF Coupe 2012</answer>"], minilm)
    assert exact["finebench_similarity"]["score"] == pytest.approx(1.0, abs=1e-5)
    assert word["finebench_similarity"]["score"] == pytest.approx(0.0, abs=1e-6)  # no better than "bird"
    assert far["finebench_similarity"]["score"] == 0.0  # worse than "bird": clipped
    assert 0.0 < near["finebench_similarity"]["score"] < 1.0
    # by hand: the same formula on the encoder's own cosines
    sim = lambda a, b: float(np.dot(*minilm.embed([a, b])))
    expected = (sim("Black Footed Albatross", truth) - sim("bird", truth)) / (1 - sim("bird", truth))
    assert near["finebench_similarity"]["score"] == pytest.approx(expected, abs=1e-6)
    # the official variant measures against the path-derived word ("object" for birds)
    official = (sim("bird", truth) - sim("object", truth)) / (1 - sim("object", truth))
    assert word["official_similarity"]["score"] == pytest.approx(max(0.0, official), abs=1e-6)
    assert word["finebench_similarity"]["encoder"] == "minilm"


def test_texts_reach_the_model_in_groups_of_like_length_with_the_embeddings_of_one_at_a_time(monkeypatch):
    """One long answer (a responder naming every class) among short class names must not pad them all to its
    length: a group's longest text is at most twice its shortest (the cost is measured in the docstring)."""
    encoder = encoders.create_encoder("minilm")
    names = ["Laysan Albatross", "Cardinal", "Black Footed Albatross", "Rhinoceros Auklet", "Sooty Albatross"]
    texts = [*names, ", ".join(names * 20), "bird"]
    alone = np.concatenate([encoder._embed_batch([text]) for text in texts])
    groups = []
    real_encode = encoder._model.encode
    monkeypatch.setattr(encoder._model, "encode", lambda batch, **options: groups.append(batch) or
                        real_encode(batch, **options))
    together = encoder._embed_batch(texts)
    assert np.abs(together - alone).max() < 1e-5
    assert sorted(text for group in groups for text in group) == sorted(texts)
    assert all(max(map(len, group)) < 2 * min(map(len, group)) for group in groups) and len(groups) > 1


def test_each_distinct_string_is_encoded_once(monkeypatch):
    encoder = encoders.SentenceTransformerEncoder("minilm", encoders._minilm_path())
    seen = []
    real = encoder._embed_batch
    monkeypatch.setattr(encoder, "_embed_batch", lambda texts: (seen.extend(texts), real(texts))[1])
    docs = [doc("Laysan Albatross")] * 50
    score_open_batch(docs, ["<answer>Sooty Albatross</answer>"] * 50, encoder)
    score_open_batch(docs, ["<answer>Sooty Albatross</answer>"] * 50, encoder)
    assert sorted(seen) == sorted({"Sooty Albatross", "Laysan Albatross", "bird", "object"})


class BlockingEncoder(encoders.TextEncoder):
    """Its model call for "slow" waits until released, as a long forward pass would."""

    def __init__(self):
        super().__init__("blocking")
        self.started, self.release = threading.Event(), threading.Event()

    def _embed_batch(self, texts):
        if "slow" in texts:
            self.started.set()
            self.release.wait(30)
        return np.ones((len(texts), 2), np.float32)


def test_cached_strings_do_not_wait_behind_another_threads_model_call():
    encoder = BlockingEncoder()
    encoder.embed(["cached"])
    worker = threading.Thread(target=encoder.embed, args=(["slow"],))
    worker.start()
    assert encoder.started.wait(30)
    answered = threading.Event()
    reader = threading.Thread(target=lambda: (encoder.embed(["cached"]), answered.set()))
    reader.start()
    try:
        assert answered.wait(10)  # while "slow" is still being encoded
    finally:
        encoder.release.set()
        worker.join()
        reader.join()
    assert np.allclose(encoder.embed(["slow"]), 2 ** -0.5)


class CountingEncoder(encoders.TextEncoder):
    """Remembers every text its model saw; "slow" takes until released."""

    def __init__(self):
        super().__init__("counting")
        self.seen, self.release = [], threading.Event()

    def _embed_batch(self, texts):
        if "slow" in texts:
            self.release.wait(30)
        self.seen += texts
        return np.ones((len(texts), 2), np.float32)


def test_prefetched_texts_are_encoded_once_in_the_background_and_waited_for():
    encoder = CountingEncoder()
    encoder.prefetch(["slow", "a", "b", "a"])
    answered = threading.Event()
    reader = threading.Thread(target=lambda: (encoder.embed(["b", "c"]), answered.set()))
    reader.start()
    assert not answered.wait(0.5)  # "b" is being prefetched: the reader waits instead of encoding it again
    encoder.release.set()
    reader.join(30)
    assert answered.is_set() and sorted(encoder.seen) == ["a", "b", "c", "slow"]
    encoder.prefetch(["a", "b"])  # all cached: nothing queued
    assert np.allclose(encoder.embed(["a", "b"]), 2 ** -0.5) and len(encoder.seen) == 4


def test_create_encoder_is_uncached_and_load_encoder_caches_it():
    assert encoders.create_encoder("minilm") is not load_encoder("minilm")
    assert load_encoder("minilm") is load_encoder("minilm")


def test_loading_is_once_per_process_and_thread_safe():
    results, errors = [], []

    def work():
        try:
            encoder = load_encoder("minilm")
            results.append((id(encoder), encoder.similarities([("Maltese Dog", "Shih Tzu")])[0]))
        except Exception as error:  # collected for the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len({identity for identity, _ in results}) == 1
    assert len({round(value, 6) for _, value in results}) == 1


def test_an_encoder_that_cannot_load_says_how_to_choose_another(tmp_path):
    empty = str(tmp_path)  # a folder without weights: fails at once, as an offline hub name does
    with pytest.raises(FinebenchError, match="(?s)cannot load the text encoder .*FINEBENCH_ENCODER=NAME"):
        load_encoder(empty)


def test_environment_selects_the_encoder(monkeypatch):
    monkeypatch.setenv("FINEBENCH_ENCODER", "minilm")
    assert encoders.selected_encoder_name() == "minilm"
    monkeypatch.delenv("FINEBENCH_ENCODER")
    assert encoders.selected_encoder_name() == "google/siglip-base-patch16-256"


def test_transformers_text_features_path(tmp_path):
    """The SigLIP code path (get_text_features, 64 tokens padded) on a tiny random CLIP model."""
    from transformers import CLIPConfig, CLIPModel

    from finebench.harness.tinymodel import _tokenizer

    tokenizer = _tokenizer()
    config = CLIPConfig(text_config={"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64,
                                     "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id},
                        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
                        projection_dim=8)
    CLIPModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    encoder = load_encoder(str(tmp_path))
    assert isinstance(encoder, encoders.TransformersTextEncoder)
    vectors = encoder.embed(["rose", "pink primrose", "rose"])
    assert vectors.shape == (3, 8) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])
