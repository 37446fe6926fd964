"""Result entries: their schema, making them from runs, and the paper's tables.

    entries                the entry schema (one per model, revision, protocol, subset), read and write
    ingest                 an lmms-eval run -> entries with 95% intervals and provenance
    wholeness              whether a run is whole (every line of each task once, all scored)
    lines                  an entry's per-line sidecar (Parquet, named by its sha256), beside it wherever it goes
    conditions             an entry's evaluation settings against the reference: what ranks and compares together
    compare                two entries line by line: paired bootstrap, McNemar, Holm
    ranking                leaderboard ranks: paired tests with Holm's correction, intervals where no lines
    positions              accuracy by the ground truth's position: profiles and their figure
    tables                 the paper's Tables 1, 2, 6 and 7 from any entries, and the circular table
    reported               the paper's own rows, transcribed (package data: results/reported/)

May import: finebench.harness, finebench.scoring, finebench.data and the foundations.
The leaderboard, the baselines and the trainers build on this layer; nothing here imports them.
"""
