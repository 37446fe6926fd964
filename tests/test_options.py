from collections import Counter

import pytest

from finebench.data.options import answer_positions, balanced_options
from finebench.data.registry import DATASETS


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_ground_truth_is_spread_evenly_over_positions(dataset, manifests):
    for split in ("seen", "unseen"):
        positions = Counter(answer_positions(manifests[dataset, split]).values())
        assert max(positions.values()) - min(positions.values()) <= 1, positions  # within one line per split
    combined = Counter()
    for split in ("seen", "unseen"):
        combined.update(answer_positions(manifests[dataset, split]).values())
    total = sum(combined.values())
    assert all(abs(count / total - 0.25) <= 0.02 for count in combined.values())


def test_permutation_is_a_fixed_reordering_of_the_official_options(manifests):
    manifest = manifests["flower", "seen"]
    permuted = balanced_options(manifest)
    positions = answer_positions(manifest)
    assert permuted == balanced_options(manifest)  # deterministic
    for line in manifest.lines:
        options = permuted[line.index]
        assert sorted(options) == sorted(line.options)
        assert options[positions[line.index]] == line.ground_truth
    # It is a real shuffle: distractor orders vary, not just the ground truth's slot.
    assert len({tuple(o for o in permuted[line.index] if o != line.ground_truth) == line.options[1:]
                for line in manifest.lines}) == 2


def test_position_depends_on_dataset_and_file_name_not_on_line_order(manifests):
    from finebench.data.manifests import Manifest

    manifest = manifests["pet", "unseen"]
    reversed_manifest = Manifest("pet", "unseen", manifest.sha256, tuple(reversed(manifest.lines)))
    assert answer_positions(reversed_manifest) == answer_positions(manifest)
