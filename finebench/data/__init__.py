"""The benchmark's data: from the official manifests and the archives on the user's disk to
prepared parquet, never touching a model.

A *unit* is one (dataset, split) of the benchmark, e.g. ``bird_seen``: one official
manifest, one prepared folder, one row of ``finebench status``.

    registry, classnames   the six datasets, their class names and super-categories
    manifests              the twelve official manifests, pinned by sha256
    archives/              one reader per official archive layout, and finding them on disk
    options                the balanced option order of the finebench protocol
    lite                   the 600-line lite subset
    imagetable, store      the parquet files and the prepared folder with its metadata
    prepare, fewshot       manifests + archives -> prepared units; k-shot training sets
    standins/              generated archives in the official layouts (tests, demo, benches)
    benchmark              `finebench bench prepare`

May import: the foundations only (finebench.errors, home, atomic).
"""
