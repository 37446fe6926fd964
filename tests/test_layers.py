"""The import direction of the tree, enforced: foundations <- data <- scoring <- harness <- results <-
baselines, trainers, leaderboard <- the command line. A module may import its own layer and those below;
lazy imports inside functions count too."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"finebench": "finebench", "tasks": "finebench.tasks", "baselines": "finebench.baselines",
           "trainers": "finebench.trainers", "leaderboard": "finebench.leaderboard",
           "results/reported": "finebench.results.reported"}
LAYERS = [  # (layer, dotted prefixes), lowest first
    ("foundations", ("finebench.errors", "finebench.home", "finebench.atomic", "finebench.extras",
                     "finebench.locations", "finebench.quickimport")),
    ("data", ("finebench.data",)),
    ("scoring", ("finebench.scoring",)),
    ("harness", ("finebench.harness", "finebench.tasks")),
    ("results", ("finebench.results",)),
    ("applications", ("finebench.baselines", "finebench.trainers", "finebench.leaderboard")),
    ("command line", ("finebench.cli", "finebench.demo", "finebench.gpucheck", "finebench.__main__",
                      "finebench.baselines.cli",
                      "finebench.trainers.cli", "finebench.leaderboard.cli")),
]


def layer_of(module: str) -> int:
    """The layer of a dotted module name: the longest matching prefix decides (cli modules of packages)."""
    best, level = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    if module == "finebench":
        return 0
    assert level is not None, f"{module} belongs to no layer: add it to LAYERS"
    return level


def modules():
    """(dotted name, path) of every module of the distribution."""
    for folder, package in FOLDERS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            yield ".".join([package, *parts]).removesuffix(".__init__") if parts[-1] == "__init__" else \
                ".".join([package, *parts]), path


def imported(module: str, path: Path) -> set[str]:
    """The finebench modules a file imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}  # `from finebench import entries`
    return {name for name in found if name == "finebench" or name.startswith("finebench.")}


def known(name: str) -> bool:
    return any(name == module for module, _ in MODULES) or any(m.startswith(name + ".") for m, _ in MODULES)


MODULES = list(modules())


def test_every_import_points_down_or_sideways():
    upward = []
    for module, path in MODULES:
        own = layer_of(module)
        for name in imported(module, path):
            if not known(name):
                continue  # a name imported from a module (from finebench.x import function)
            if layer_of(name) > own:
                upward.append(f"{path.relative_to(REPO)} ({LAYERS[own][0]}) imports {name} "
                              f"({LAYERS[layer_of(name)][0]})")
    assert not upward, "\n".join(upward)


def test_every_package_says_what_it_holds_and_may_import():
    for package in ("data", "scoring", "harness", "results"):
        text = (REPO / "finebench" / package / "__init__.py").read_text()
        assert "May import" in text
        named = [line.split()[0] for line in ast.get_docstring(ast.parse(text)).splitlines()
                 if line.startswith("    ") and line.split()]
        for name in named:  # every module the docstring lists exists
            stem = name.rstrip(",/").split(",")[0]
            assert ((REPO / "finebench" / package / f"{stem}.py").is_file() or
                    (REPO / "finebench" / package / stem).is_dir() or stem == "reported"), (package, stem)


def test_no_two_modules_import_each_other_however_indirectly():
    """Sideways imports are allowed, circles are not (lazy imports inside functions count): what two modules both
    need belongs to the layer below them."""
    names = {module for module, _ in MODULES}
    # `from . import sibling` names the package too; a module inside a package is not taken to import its __init__
    graph = {module: {name for name in imported(module, path) if name in names and name != module
                      and not module.startswith(name + ".")}
             for module, path in MODULES}
    cycles, state = [], {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)
