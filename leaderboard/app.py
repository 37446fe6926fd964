"""The Gradio leaderboard: tables, filters, plots, details, submission and the queue.

`build_app` is pure construction (no I/O at import time); `finebench leaderboard` starts it.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Sequence

import gradio as gr
import pandas as pd

from finebench import atomic
from finebench.data.registry import DATASET_KEYS
from finebench.errors import FinebenchError
from finebench.harness.tasknames import BASELINE_TASKS
from finebench.results import compare, conditions, lines, positions, ranking
from finebench.results.entries import FAMILIES, SUBSETS
from finebench.results.tables import reported_dir
from finebench.scoring.protocols import Protocol

from . import data, detail, health
from .columns import ALL_COLUMNS, DEFAULT_COLUMNS, PROTOCOLS, SETTINGS_CHOICES, SIZE_BUCKETS, SOURCES, TYPES, VIEWS
from .queue import DuplicateRequest, Queue
from .settings import QUEUE_VARIABLE, RESULTS_VARIABLE, Settings
from .storage import LocalStorage, Storage, open_storage
from .submission import BACKENDS, PRECISIONS, validate_submission
from .untrusted import as_text

ABOUT = f"""\
## finebench

Fine-grained visual recognition with multimodal LLMs: six datasets (FGVC-Aircraft, CUB-200,
Stanford Cars, Stanford Dogs, Flowers-102, Oxford-IIIT Pet), each split into **seen** and
**unseen** classes, asked in a **closed world** (pick one of four options) and an **open
world** (name the class). The test items are the 35,566 lines of the Fine-R1 paper.

**Two protocols.** `official` reproduces the released scorer exactly, flaws included: the
ground truth is always the first option, an answer that contains the ground truth as a
substring counts (so listing all four options scores 100 %), car names are truncated, and
the super-category word is guessed from the image path. `finebench` (the default) shuffles
the options per line, requires the answer to name exactly one option or class, uses full
names and the dataset's own super-category. **Position bias** is official minus finebench
closed-world accuracy. `circular` asks each closed-world line in the four rotations of the
finebench option order and counts it only when all four answers are right (no guessing by
position survives it); its own tab sets it beside the plain figure.

**Like with like.** Each row shows the conditions its run recorded: new tokens, decoding,
the image pixel budget, precision and backend. The benchmark's reference is greedy decoding
with up to 2048 new tokens, images of 3,136 to 12,845,056 pixels and bfloat16, as released;
a row evaluated otherwise is marked ⚠ in the *settings* column and ranked only among rows
evaluated the same way (tick *Rank across settings* to rank all together). Compare gives no
verdict between entries evaluated differently unless asked.

**Ranks**: a row's rank is 1 + the rows of its subset and settings clearly ahead of it. Two entries
that both carry per-line scores are compared on the lines both scored (a paired z-test of
the difference in the ranked mean, each dataset x split cell weighing 1/12 as in the mean),
and the p-values of all the table's pairs are adjusted with Holm's correction, so the chance
that any "ahead" in the table is wrong stays under 5 % without assuming the pairs
independent (they share models). Where either entry has no per-line scores, "ahead" means
their 95 % bootstrap intervals do not overlap; the "ties by" column says which decided.
Rows transcribed from the paper (`reported`) have no intervals. Averages follow the paper:
the mean over six datasets, and the mean of the seen and unseen averages.

**Reproduce a row**: `finebench prepare --data-root DIR`, then
`finebench eval --model qwen2_5_vl --model_args pretrained=<model> --tasks {BASELINE_TASKS}
--log_samples --output_path runs/x`, then `finebench ingest runs/x` and `finebench tables --compare reported`.
"""


CLOSED = "Closed-world accuracy"
CIRCULAR = "Circular accuracy"
SIDECARS_KEPT = 8  # per-line files kept in memory (a full entry's is about 100,000 rows)


def problems_note(problems: Sequence[str], what: str, shown: int = 5) -> str:
    """A warning naming the first few unreadable files and how many more (empty when there are none); file names
    and reasons quote what was submitted, so they are shown as text."""
    if not problems:
        return ""
    more = f"; and {len(problems) - shown} more" if len(problems) > shown else ""
    listed = "; ".join(map(as_text, problems[:shown]))
    return f"⚠️ {what.capitalize()} that could not be read ({len(problems)}): {listed}{more}"


class Frames(dict):
    """Tab title -> its ranked rows, made when first asked for: a start ranks only the tab it shows."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, title: str) -> pd.DataFrame:
        frame = self[title] = self._make(VIEWS[title])
        return frame


class Leaderboard:
    """The state behind the app: entries (reloadable) and the queue."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.queue = Queue(open_storage(settings.queue, QUEUE_VARIABLE))
        self.results = [open_storage(location, RESULTS_VARIABLE) for location in settings.results]
        for storage in (self.queue.storage, *self.results):
            storage.reach()  # a location that cannot be reached stops the start, with the reason
        self.published: dict[int, list[dict]] = {}  # per results location, what was last read from it
        self.reported = data.PublishedReader(LocalStorage(reported_dir()))  # the paper's rows
        # each reads what changed since it last read; with a cache, since the last start too
        self.readers = [data.PublishedReader(storage, settings.cache) for storage in self.results]
        self.sidecars: dict[str, dict] = {}  # sha256 -> per-line columns, the few last read
        self.ranked: dict[str, dict] = {}  # sha256 -> metric -> its lines, compact, for the paired ranks
        self.reload()

    def reload(self) -> None:
        """Read every results location again (the workers publish while the app runs). One that cannot be read
        now keeps what was read from it before, and the note above the tables says so."""
        problems: list[str] = []
        self.entries = self.reported.read(problems)
        self.origins: dict[str, Storage] = {}  # entry key -> where it was read: its sidecar lies beside it
        for number, (storage, reader) in enumerate(zip(self.results, self.readers)):
            try:
                self.published[number] = reader.read(problems)
            except Exception as error:  # the Hub is down or the folder vanished: keep the last view, say why
                problems.append(f"{storage.describe('')}: {type(error).__name__}: {str(error)[:200]} "
                                "(showing what was read from it before)")
            self.entries += self.published.get(number, [])
            self.origins.update((data.entry_key(entry), storage) for entry in self.published.get(number, []))
        self.by_key = {data.entry_key(entry): entry for entry in self.entries}
        self._read_ranked_lines(problems)
        self.problems = problems
        held = {id(entry): conditions.of(entry) for entry in self.entries}  # read once, for every tab
        self._conditions_of = lambda entry: held[id(entry)]
        self.frames = Frames(self._frame)  # each tab's rows, ranked when the tab is first shown
        self.frames_across_settings = Frames(lambda metric: self._frame(metric, across_settings=True))

    def _frame(self, metric: str, across_settings: bool = False) -> pd.DataFrame:
        return data.metric_frame(self.entries, metric, self._ranked_lines(metric), self._conditions_of,
                                 across_settings)

    def table(self, title: str, across_settings: bool = False) -> pd.DataFrame:
        """A tab's ranked rows: each kind of evaluation conditions ranked apart, or all together when asked."""
        return (self.frames_across_settings if across_settings else self.frames)[title]

    def _ranked_lines(self, metric: str):
        """An entry -> its lines of the metric for the paired ranks (None: ranked by its interval)."""
        return lambda entry: self.ranked.get((entry.get("lines") or {}).get("sha256"), {}).get(metric)

    def _read_ranked_lines(self, problems: list[str]) -> None:
        """The per-line scores the paired ranks need, in compact form, each sidecar read once (its name is its
        content); one that cannot be read is noted, and its entry ranked by its intervals."""
        wanted = {entry["lines"]["sha256"]: key for key, entry in self.by_key.items()
                  if entry.get("lines") and key in self.origins}
        self.ranked = {sha: cells for sha, cells in self.ranked.items() if sha in wanted}
        for sha, key in wanted.items():
            if sha in self.ranked:
                continue
            storage = self.origins[key]
            try:
                columns = lines.load(self.by_key[key], storage.read, storage.describe)
            except FinebenchError as error:
                problems.append(f"{key}: {error.problem} (ranked by its interval)")
                continue
            self.ranked[sha] = {metric: ranking.cells_of(columns, metric) for metric in set(columns["metric"])}

    def position_profiles(self) -> list[tuple[str, list[float | None]]]:
        """(label, closed-world accuracy by the ground truth's position) of each entry that records it (finebench
        protocol, ingested with its per-line scores)."""
        return [(positions.label(entry), entry["positions"]) for _, entry in sorted(self.by_key.items())
                if entry.get("positions")]

    def with_lines(self) -> list[str]:
        """The keys of the entries that carry per-line scores: the ones that can be compared line by line."""
        return sorted(key for key, entry in self.by_key.items() if entry.get("lines") and key in self.origins)

    def columns(self, key: str) -> dict | None:
        """The entry's per-line columns, read from beside it where it was read (None without them). Kept by the
        sidecar's sha256, which names its contents: switching between a few entries in Details or Compare reads
        each file once."""
        entry, storage = self.by_key[key], self.origins.get(key)
        reference = entry.get("lines")
        if not reference or storage is None:
            return None
        if reference["sha256"] not in self.sidecars:
            while len(self.sidecars) >= SIDECARS_KEPT:
                self.sidecars.pop(next(iter(self.sidecars)))  # the oldest read
            self.sidecars[reference["sha256"]] = lines.load(entry, storage.read, storage.describe)
        return self.sidecars[reference["sha256"]]

    def compare(self, key_a: str | None, key_b: str | None, across_settings: bool = False, shown: int = 12):
        """Two entries line by line: a note, the table of paired differences, the closed-world lines where
        exactly one is right (with both answers), and those lines' images when the data is prepared here. Entries
        evaluated under different settings get no verdict unless `across_settings` (compare.settings_verdict)."""
        if not key_a or not key_b or key_a not in self.by_key or key_b not in self.by_key:
            return "Choose two entries that carry per-line scores.", None, None, []
        try:
            columns_a, columns_b = self.columns(key_a), self.columns(key_b)
        except FinebenchError as error:
            return f"⚠️ {as_text(error.problem)}", None, None, []
        if columns_a is None or columns_b is None:
            return "Choose two entries that carry per-line scores.", None, None, []
        judged, settings_note = compare.settings_verdict(self.by_key[key_a], self.by_key[key_b], across_settings)
        cells = compare.compare(columns_a, columns_b, judged)
        if not cells:
            return "These two entries share no scored line (a full entry and a lite one?).", None, None, []
        differing = compare.disagreements(columns_a, columns_b)
        note = (f"A = {as_text(key_a)}\n\nB = {as_text(key_b)}\n\n{len(differing)} closed-world lines where exactly "
                "one is right. Intervals: paired bootstrap over the lines both scored; p: McNemar's exact test, "
                "Holm-corrected over the table (\"different\": p < 0.05 after it).")
        if settings_note:
            # the settings quote what the entries' runs recorded, which a submitter chose: shown as text
            note += f"\n\n⚠️ {as_text(settings_note)}" + ("" if judged else " (tick *Judge across settings*)")
        frame = pd.DataFrame(differing, columns=["dataset", "split", "sample_id", "ground_truth", "score_a",
                                                 "answer_a", "score_b", "answer_b"])
        return note, data.comparison_frame(cells), frame, self._images(differing[:shown])

    @staticmethod
    def _images(lines_shown: list[dict]) -> list[tuple]:
        """(image, caption) of the lines, from the prepared data when it is on this machine; none otherwise."""
        import io

        from PIL import Image

        from finebench.data.store import PreparedStore
        from finebench.home import prepared_dir

        store, gallery = PreparedStore(prepared_dir()), []
        for dataset, split in dict.fromkeys((line["dataset"], line["split"]) for line in lines_shown):
            try:
                found = store.images(dataset, split, [line["sample_id"] for line in lines_shown])
            except (FinebenchError, OSError):
                continue  # not prepared here: the table still names every line
            gallery += [(Image.open(io.BytesIO(found[line["sample_id"]])),
                         f"{line['ground_truth']} | A: {line['answer_a']} | B: {line['answer_b']}")
                        for line in lines_shown if line["sample_id"] in found]
        return gallery

    def position_figure(self):
        profiles = self.position_profiles()
        return positions.figure(profiles) if profiles else None

    def encoders(self) -> list[str]:
        return sorted({e.get("text_encoder") for e in self.entries if e.get("text_encoder")})

    def view(self, title: str, search, families, sizes, protocols, sources, encoders, columns,
             subset: str = "full", settings: Sequence[str] = (), across_settings: bool = False) -> pd.DataFrame:
        frame = data.filter_frame(self.table(title, bool(across_settings)), search, families, sizes, protocols,
                                  sources, encoders, subset, settings)
        chosen = [c for c in ALL_COLUMNS if c in (columns or DEFAULT_COLUMNS)]
        return frame[chosen]

    def queue_view(self) -> tuple[pd.DataFrame, str]:
        """The queue table and a note on malformed request files, from one listing of the queue."""
        return self._queue_table(self.queue.listing())

    @staticmethod
    def _queue_table(listing) -> tuple[pd.DataFrame, str]:
        frame = pd.DataFrame([{"request": r.id, "model": r.model, "revision": r.revision, "protocol": r.protocol,
                               "backend": r.backend, "status": r.status, "reason": r.reason or "",
                               "submitted": r.submitted_at, "log": r.log or "", "entries": ", ".join(r.entries)}
                              for r in listing.requests],
                             columns=["request", "model", "revision", "protocol", "backend", "status", "reason",
                                      "submitted", "log", "entries"])
        return frame, problems_note(listing.problems, "queue requests")

    def status_view(self) -> tuple[pd.DataFrame, str, str, pd.DataFrame]:
        """The queue (table, note) and the workers' health (summary, table), from one listing of the queue."""
        listing = self.queue.listing()
        reports, problems = health.read_reports(self.queue.storage)
        workers = health.workers_frame(reports, listing.requests, self.settings.stale_after_seconds)
        summary = health.summary(workers, listing.requests)
        if problems:
            summary += "\n\n" + problems_note(problems, "worker reports")
        return (*self._queue_table(listing), summary, workers)

    def queue_frame(self) -> pd.DataFrame:
        return self.queue_view()[0]

    def submit(self, model, revision, precision, family, backend, contact, protocol) -> str:
        try:
            request = validate_submission(model or "", revision or "main", precision, family, backend,
                                          contact or "", protocol, self.settings)
            self.queue.submit(request)
        except DuplicateRequest as duplicate:  # the messages quote what was submitted: shown as text
            return f"❌ Refused: {as_text(duplicate)}"
        except FinebenchError as error:
            return f"❌ Refused: {as_text(error.problem)}\n\nFix: {as_text(error.fix)}"
        return f"✅ Submitted: request {as_text(request.id)} is PENDING " \
               f"({as_text(self.queue.storage.describe(request.path))})"

    def details(self, key: str | None) -> tuple[str, pd.DataFrame | None, pd.DataFrame | None]:
        """Provenance, per-class accuracy and confused pairs of one entry; its samples are read once."""
        entry = self.by_key.get(key)
        if entry is None:
            return "", None, None
        markdown = detail.provenance_markdown(entry)
        try:
            samples = detail.closed_samples(self.columns(key))
        except FinebenchError as error:
            samples, markdown = (), f"{markdown}\n\n⚠️ {as_text(error.problem)}"
        if not entry.get("lines"):
            markdown = f"{markdown}\n\n{detail.NO_LINES}"
        return markdown, detail.per_class_accuracy(samples), detail.confused_pairs(samples)


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns))


def _metric_tabs(board: Leaderboard) -> tuple[dict, dict, gr.ScatterPlot, gr.Dataframe]:
    """The metric tabs: the first filled at start, the others (shown empty) when first opened (build_app)."""
    tables, tabs, scatter, circular = {}, {}, None, None
    for title in VIEWS:
        with gr.Tab(title) as tabs[title]:
            shown = board.view(title, "", [], [], [], [], [], DEFAULT_COLUMNS) if title == CLOSED else \
                _empty(DEFAULT_COLUMNS)
            tables[title] = gr.Dataframe(shown, datatype=[TYPES[name] for name in DEFAULT_COLUMNS],
                                         interactive=False, elem_id=f"table-{VIEWS[title]}")
            if title == CLOSED:
                scatter = gr.ScatterPlot(data.seen_unseen_points(board.frames[title]), x="seen avg", y="unseen avg",
                                         color="family", tooltip=["model"], title="Seen vs unseen (closed world)")
            if title == CIRCULAR:
                gr.Markdown("The circular protocol asks each closed-world line four times, its options turned one "
                            "place each time, and counts the line only if all four answers are right: a model that "
                            "leans on a position cannot pass (`first_option` scores 0, `random_option` 0.4 %). "
                            "Beside each entry: its accuracy over all rotations, the same model's plain finebench "
                            "closed-world accuracy, what requiring all four costs, and its accuracy with the ground "
                            "truth at each position.")
                circular = gr.Dataframe(_empty(data.circular_columns()), interactive=False, elem_id="circular-table")
    return tables, tabs, scatter, circular


def _dataset_tab(board: Leaderboard) -> tuple[gr.Dropdown, gr.Dataframe, gr.BarPlot]:
    """The per-dataset tab, filled when first opened."""
    with gr.Tab("Per dataset") as tab:
        dataset = gr.Dropdown(list(DATASET_KEYS), value=DATASET_KEYS[0], label="Dataset")
        dataset_table = gr.Dataframe(interactive=False, elem_id="dataset-table")
        bars = gr.BarPlot(_empty(("model", "dataset", "value")), x="dataset", y="value",
                          color="model", title="Closed-world accuracy per dataset, seen (top 8)")
        dataset.change(lambda d: data.dataset_frame(board.entries, d), dataset, dataset_table)
    tab.select(lambda d: (data.dataset_frame(board.entries, d), data.dataset_bars(board.frames[CLOSED])), dataset,
               [dataset_table, bars], api_name=False)
    return dataset, dataset_table, bars


def _position_tab(board: Leaderboard) -> tuple[gr.Dataframe, gr.Plot]:
    """The position-bias tab, filled when first opened (its figure needs matplotlib, slow to import)."""
    with gr.Tab("Position bias") as tab:
        gr.Markdown("Official closed-world accuracy (answer always first) minus finebench's (shuffled).")
        bias = gr.Dataframe(_empty(data.POSITION_BIAS_COLUMNS), interactive=False, elem_id="position-bias-table")
        gr.Markdown("Closed-world accuracy by where the ground truth stood among the four options "
                    "(finebench protocol, from each entry's per-line scores; circular protocol, over all its "
                    "rotations): an unbiased model's four bars are level.")
        profile_plot = gr.Plot(elem_id="position-profiles")
    tab.select(lambda: (data.position_bias_frame(board.entries), board.position_figure()), None, [bias, profile_plot],
               api_name=False)
    return bias, profile_plot


def _details_tab(board: Leaderboard) -> gr.Dropdown:
    with gr.Tab("Details"):
        choice = gr.Dropdown(sorted(board.by_key), label="Entry", elem_id="entry-choice")
        provenance = gr.Markdown(elem_id="provenance")
        per_class = gr.Dataframe(label="Per-class accuracy (when samples were ingested)", interactive=False)
        confused = gr.Dataframe(label="Most confused class pairs", interactive=False)
        choice.change(board.details, choice, [provenance, per_class, confused])
    return choice


def _compare_tab(board: Leaderboard) -> tuple[gr.Dropdown, gr.Dropdown]:
    with gr.Tab("Compare"):
        gr.Markdown("Two entries line by line, over the lines both scored (entries with per-line scores only).")
        with gr.Row():
            first = gr.Dropdown(board.with_lines(), label="A", elem_id="compare-a")
            second = gr.Dropdown(board.with_lines(), label="B", elem_id="compare-b")
            across = gr.Checkbox(False, label="Judge across settings", elem_id="compare-across-settings",
                                 info="call differences significant even between entries evaluated differently")
            run = gr.Button("Compare", variant="primary", scale=0, elem_id="compare-button")
        note = gr.Markdown(elem_id="compare-note")
        cells = gr.Dataframe(label="Paired differences", interactive=False, elem_id="compare-table")
        differing = gr.Dataframe(label="Closed-world lines where exactly one is right", interactive=False)
        images = gr.Gallery(label="Their images (when the data is prepared here)", columns=6, height="auto")
        run.click(board.compare, [first, second, across], [note, cells, differing, images], api_name="compare")
    return first, second


def _submit_tab(board: Leaderboard) -> None:
    with gr.Tab("Submit"):
        with gr.Row():
            model = gr.Textbox(label="Model (Hugging Face id, absolute path, or a reference responder)",
                               elem_id="submit-model")
            revision = gr.Textbox(value="main", label="Revision", elem_id="submit-revision")
        with gr.Row():
            precision = gr.Dropdown(list(PRECISIONS), value="bfloat16", label="Precision")
            family = gr.Dropdown(list(FAMILIES), value="general MLLM", label="Family", elem_id="submit-family")
            backend = gr.Dropdown(list(BACKENDS), value="hf", label="Backend", elem_id="submit-backend")
            protocol = gr.Dropdown(list(PROTOCOLS), value=Protocol.FINEBENCH, label="Protocol")
        contact = gr.Textbox(label="Contact (e-mail or Hugging Face user)", elem_id="submit-contact")
        send = gr.Button("Submit", variant="primary", elem_id="submit-button")
        status = gr.Markdown(elem_id="submit-status")
        frame, note, summary, workers = board.status_view()
        queue_table = gr.Dataframe(frame, label="Queue", interactive=False, elem_id="queue-table")
        queue_note = gr.Markdown(note, elem_id="queue-problems")  # malformed request files, as for results
        workers_summary = gr.Markdown(summary, elem_id="workers-summary")
        workers_table = gr.Dataframe(workers, label="Workers (the evaluation machines)", interactive=False,
                                     elem_id="workers-table")
        refresh = gr.Button("Refresh queue and workers", elem_id="refresh-queue")
        shown = [queue_table, queue_note, workers_summary, workers_table]
        send.click(board.submit, [model, revision, precision, family, backend, contact, protocol], status,
                   api_name="submit").then(board.status_view, None, shown)
        refresh.click(board.status_view, None, shown, api_name="queue")


def build_app(settings: Settings) -> gr.Blocks:
    board = Leaderboard(settings)
    with gr.Blocks(title="finebench leaderboard") as app:
        gr.Markdown("# finebench: fine-grained visual recognition leaderboard")
        results_note = gr.Markdown(problems_note(board.problems, "result files"), elem_id="results-problems")
        with gr.Row():
            search = gr.Textbox(label="Search models (separate terms with ;)", elem_id="search")
            columns = gr.Dropdown(ALL_COLUMNS, value=DEFAULT_COLUMNS, multiselect=True, label="Columns")
            reload_button = gr.Button("Reload results", elem_id="reload-results", scale=0)
        with gr.Row():
            families = gr.CheckboxGroup(list(FAMILIES), label="Family", elem_id="family-filter")
            sizes = gr.CheckboxGroup(list(SIZE_BUCKETS), label="Size")
            protocols = gr.CheckboxGroup(list(PROTOCOLS), label="Protocol")
            sources = gr.CheckboxGroup(list(SOURCES), label="Source")
            encoder_box = gr.CheckboxGroup(board.encoders(), label="Text encoder")
            subset = gr.Radio(list(SUBSETS), value="full", label="Subset (ranked separately)", elem_id="subset")
        with gr.Row():
            settings = gr.CheckboxGroup(list(SETTINGS_CHOICES), label="Settings (generation, pixel budget, precision)",
                                        info="reference: the benchmark's; other rows are marked ⚠ and ranked among "
                                             "rows evaluated alike", elem_id="settings-filter")
            across = gr.Checkbox(False, label="Rank across settings", elem_id="rank-across-settings",
                                 info="rank every row together, whatever its settings")
        filters = [search, families, sizes, protocols, sources, encoder_box, columns, subset, settings, across]
        with gr.Tabs():
            tables, tabs, scatter, circular = _metric_tabs(board)
            dataset, dataset_table, bars = _dataset_tab(board)
            bias, profile_plot = _position_tab(board)
            choice = _details_tab(board)
            compare_a, compare_b = _compare_tab(board)
            _submit_tab(board)
            with gr.Tab("About"):
                gr.Markdown(ABOUT)
        download = gr.DownloadButton("Download CSV (closed world, filtered)")

        exports = Path(tempfile.mkdtemp(prefix="finebench-csv-"))  # one folder per app, not one per download

        def export(*values):
            text = board.view(CLOSED, *values).to_csv(index=False)
            # named by content: a repeated view reuses its file, concurrent downloads never share one
            path = exports / f"finebench-leaderboard-{hashlib.sha256(text.encode()).hexdigest()[:12]}.csv"
            if not path.is_file():
                atomic.write_text(path, text)
            return str(path)

        def reloaded(*values):
            """Read the result folders again (the worker publishes while the app runs) and redraw what they feed."""
            *chosen, dataset_key = values
            board.reload()
            return (*[board.view(title, *chosen) for title in tables], data.seen_unseen_points(board.frames[CLOSED]),
                    data.dataset_frame(board.entries, dataset_key), data.dataset_bars(board.frames[CLOSED]),
                    data.position_bias_frame(board.entries), board.position_figure(),
                    data.circular_frame(board.entries),
                    gr.update(choices=board.encoders()),
                    gr.update(choices=sorted(board.by_key)), gr.update(choices=board.with_lines()),
                    gr.update(choices=board.with_lines()), problems_note(board.problems, "result files"))

        download.click(export, filters, download, api_name="download")
        redrawn = [*tables.values(), scatter, dataset_table, bars, bias, profile_plot, circular, encoder_box, choice,
                   compare_a, compare_b, results_note]
        reload_button.click(reloaded, [*filters, dataset], redrawn, api_name="reload")
        # one listener for every filter, redrawing every metric tab (a tab not yet opened is ranked then)
        gr.on([control.change for control in filters], lambda *values: [board.view(title, *values) for title in tables],
              filters, list(tables.values()), api_name=False)
        for title, tab in tabs.items():
            if title == CIRCULAR:
                tab.select(lambda *values: (board.view(CIRCULAR, *values), data.circular_frame(board.entries)),
                           filters, [tables[title], circular], api_name=False)
            elif title != CLOSED:
                tab.select(lambda *values, title=title: board.view(title, *values), filters, tables[title],
                           api_name=False)
    app.leaderboard = board  # for benchmarks and tests that drive the handlers directly
    return app
