from collections import Counter

from finebench.data.lite import LITE_LINES_PER_SPLIT, lite_indices


def test_lite_is_stratified_fixed_and_small(manifests):
    total = 0
    for manifest in manifests.values():
        indices = lite_indices(manifest)
        assert indices == lite_indices(manifest) == sorted(set(indices))
        assert len(indices) == LITE_LINES_PER_SPLIT
        per_class = Counter(manifest.lines[index].ground_truth for index in indices)
        classes = len(manifest.classes)
        # every class before any class twice: counts differ by at most one
        assert len(per_class) == min(classes, LITE_LINES_PER_SPLIT)
        assert max(per_class.values()) - min(per_class.values()) <= 1
        total += len(indices)
    assert total == 600


def test_lite_seed_changes_the_draw(manifests):
    manifest = manifests["dog", "seen"]
    assert lite_indices(manifest, seed=1) != lite_indices(manifest, seed=2)
