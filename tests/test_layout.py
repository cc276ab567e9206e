"""The package's layout: its stages stay apart, and moving modules between folders lost nothing.

`autograder/` is split into stages (see `autograder/__init__.py`): `sandbox/` runs student code,
`grading/` scores it, `outputs/` writes what people read. These tests keep the stages apart (an
import graph read from the source) and guard what a move of files can silently break:

- the sandbox must be denied the whole installed kit, wherever pip put it (a wheel, not only
  this editable checkout): hidden checks and reference solutions live in every subfolder;
- a wheel built from pyproject.toml must hold every subpackage and grade a sample;
- the store's kit digest must read every subfolder, or a changed check reuses stale grades;
- module names written as strings (`python -m ...`, the preload list) must still resolve;
- README.md and docs/ must name the paths that exist now.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from autograder.grading import store
from autograder.outputs.gradescope import KIT
from autograder.sandbox import preload

PKG = ROOT / "autograder"
CACHES = {"__pycache__", ".ipynb_checkpoints", "build"}
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def kit_files(folder: Path) -> list[Path]:
    """Every file of a package folder, without caches."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not CACHES & set(p.relative_to(folder).parts) and p.suffix not in (".pyc", ".pyo")
    )


# ---------------------------------------------------------------- the import graph


def module_name(path: Path, pkg_dir: Path) -> str:
    """autograder/grading/grade.py -> autograder.grading.grade; a package's __init__.py -> the package."""
    parts = [pkg_dir.name, *path.relative_to(pkg_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, pkg_dir: Path, modules: set[str]) -> set[str]:
    """The absolute names of every module `path` imports, anywhere in it (in functions too),
    with relative imports resolved. `from X import y` counts X, and X.y when y is a module."""
    name = module_name(path, pkg_dir)
    # the package a relative import starts from: the module's own, or itself for an __init__.py
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in modules)
    return found


def import_graph(pkg_dir: Path) -> dict[str, set[str]]:
    """module -> the modules it imports, for every .py file under `pkg_dir`."""
    files = [p for p in kit_files(pkg_dir) if p.suffix == ".py"]
    modules = {module_name(p, pkg_dir) for p in files}
    return {module_name(p, pkg_dir): imports_of(p, pkg_dir, modules) for p in files}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Every kit module that importing `start` loads, each with a chain of imports that gets there.
    Importing a.b.c runs a/__init__.py and a/b/__init__.py too."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        module = todo.pop(0)
        for target in sorted(graph.get(module, ())):
            parts = target.split(".")
            for loaded in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if loaded in graph and loaded not in chains:
                    chains[loaded] = [*chains[module], loaded]
                    todo.append(loaded)
    return chains


# Which stage may not load which, directly or through other modules: the data flows
# sandbox -> grading -> outputs, and the `course` command sits on top of them all.
# Tests and bench/ may import anything.
FORBIDDEN = {
    "autograder.outputs": ["autograder.sandbox", "autograder.grading", "autograder.cli"],
    "autograder.sandbox": ["autograder.grading", "autograder.outputs", "autograder.cli"],
    "autograder": ["autograder.cli"],
}


def violations(graph: dict[str, set[str]]) -> list[str]:
    """One line per forbidden module a module loads: the chain of imports that loads it (up to
    the first forbidden module on the way, not all that one loads in turn)."""
    out = set()
    for module in graph:
        banned = [b for stage, bs in FORBIDDEN.items() if within(module, stage) for b in bs]
        for chain in reachable(graph, module).values():
            hits = [i for i, m in enumerate(chain) if i > 0 and any(within(m, b) for b in banned)]
            if hits and hits[0] == len(chain) - 1:
                out.add(" -> ".join(chain))
    return sorted(out)


def test_the_stages_import_only_downstream():
    assert violations(import_graph(PKG)) == []


def test_the_graph_sees_real_edges():
    """Not vacuous: the graph holds edges we know exist, of each kind of import statement."""
    graph = import_graph(PKG)
    assert set(graph) >= {"autograder", "autograder.cli", "autograder.sandbox.box", "autograder.outputs.gradescope"}
    assert "autograder.sandbox.box" in graph["autograder.grading.grade"]  # from ..sandbox.box import ...
    assert "autograder.wire" in graph["autograder.grading.expected"]  # from .. import wire
    assert "autograder.outputs.feedback" in graph["autograder.cli"]  # from .outputs import feedback, in a function
    assert "torch" in graph["autograder.checks.oracle"]  # import torch
    # the cli may load every stage, and does: the rules bind the stages, not the command on top
    assert {"autograder.sandbox.pool", "autograder.grading.store", "autograder.outputs.exports"} <= set(
        reachable(graph, "autograder.cli")
    )
    assert not any(v.startswith("autograder.cli ") for v in violations(graph))


def test_a_forbidden_import_is_caught(tmp_path):
    """A made-up kit whose stages break the rules the sneaky ways: a relative import inside a
    function, one through the package (`from ... import grading`), an absolute one of the cli,
    and one through a shared module (outputs -> config -> sandbox)."""
    pkg = tmp_path / "autograder"
    files = {
        "__init__.py": "",
        "cli.py": "",
        "config.py": "import os\nfrom .sandbox import box\n",
        "grading/__init__.py": "",
        "grading/store.py": "",
        "outputs/__init__.py": "",
        "outputs/page.py": "def draw():\n    from ..grading import store\n",
        "outputs/deep/__init__.py": "from ... import grading\n",
        "outputs/table.py": "from .. import config\n",
        "sandbox/__init__.py": "",
        "sandbox/box.py": "def run():\n    import autograder.cli as c\n",
    }
    for rel, text in files.items():
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_text(text)
    assert violations(import_graph(pkg)) == [
        "autograder.config -> autograder.sandbox.box -> autograder.cli",
        "autograder.outputs.deep -> autograder.grading",
        "autograder.outputs.page -> autograder.grading",
        "autograder.outputs.page -> autograder.grading.store",
        "autograder.outputs.table -> autograder.config -> autograder.sandbox",
        "autograder.outputs.table -> autograder.config -> autograder.sandbox.box",
        "autograder.sandbox.box -> autograder.cli",
    ]  # (not outputs.table -> ... -> sandbox.box -> cli: a chain stops at its first forbidden module)


def test_the_pool_server_is_never_imported():
    """`python -m autograder.sandbox.server` runs it as __main__; imported by name as well, it
    would be a second copy of the module in the same process."""
    graph = import_graph(PKG)
    assert [m for m, targets in graph.items() if "autograder.sandbox.server" in targets] == []


# ---------------------------------------------------------------- module names written as strings


def resolves(dotted: str) -> bool:
    """A module, or an attribute of the longest module prefix (`autograder.sandbox.box.Sandbox`)."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:i]))
        except ModuleNotFoundError:  # a parent that is not a package
            spec = None
        if spec is not None:
            obj = importlib.import_module(".".join(parts[:i]))
            for attr in parts[i:]:
                if not hasattr(obj, attr):
                    return False
                obj = getattr(obj, attr)
            return True
    return False


def dash_m_module(pool_source: str) -> str:
    """The module the pool starts: the element after "-m" in its command list."""
    for node in ast.walk(ast.parse(pool_source)):
        if isinstance(node, ast.List):
            items = [e.value if isinstance(e, ast.Constant) else None for e in node.elts]
            if "-m" in items:
                return items[items.index("-m") + 1]
    raise AssertionError('no [..., "-m", MODULE, ...] list in autograder/sandbox/pool.py')


def has_main_block(source: str) -> bool:
    return any(
        isinstance(n, ast.If) and ast.unparse(n.test).replace("'", '"') == '__name__ == "__main__"'
        for n in ast.parse(source).body
    )


def test_the_module_the_pool_starts_exists_and_runs():
    """The pool names its server as a string (`python -I -m ...`): a move leaves it stale unnoticed
    until the first grade, which then fails with "the sandbox pool did not start"."""
    module = dash_m_module((PKG / "sandbox" / "pool.py").read_text())
    assert module == "autograder.sandbox.server"  # what the map says; a rename must update both
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module}: no such module"
    assert has_main_block(Path(spec.origin).read_text()), f"{module} has no `if __name__ == '__main__':`"


def test_the_preloaded_modules_exist():
    kit = [m for m in preload.PRELOAD if m.startswith("autograder")]
    assert kit, "the pool preloads none of the kit's modules: has PRELOAD moved?"
    assert [m for m in kit if importlib.util.find_spec(m) is None] == []


def dotted_names_in_source() -> dict[str, str]:
    """Every string in autograder/ that names a kit module: whole string constants
    ("autograder.sandbox.tripwire") and `-m autograder....` in any file (docstrings, shell scripts)."""
    names = {}
    for path in kit_files(PKG):
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        for name in re.findall(r"-m\s+(autograder(?:\.\w+)*)", text):
            names[name] = where
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if re.fullmatch(r"autograder(\.\w+)+", node.value):
                        names[node.value] = where
    return names


def test_every_module_named_in_a_string_exists():
    names = dotted_names_in_source()
    # not vacuous: the preload list and the pool's -m are found this way
    assert {"autograder.sandbox.tripwire", "autograder.sandbox.server"} <= set(names)
    assert {n: where for n, where in names.items() if not resolves(n)} == {}


def test_a_stale_module_name_does_not_resolve():
    assert resolves("autograder.sandbox.box.Sandbox")
    for old in ("autograder.pool.Pool", "autograder.grade", "autograder.oracle", "autograder.sandbox.nothing"):
        assert not resolves(old), old


# ---------------------------------------------------------------- the docs


def expand_braces(path: str) -> list[str]:
    """autograder/{cli,config}.py -> [autograder/cli.py, autograder/config.py]."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [x for alt in m[1].split(",") for x in expand_braces(path[: m.start()] + alt + path[m.end() :])]


def doc_paths(text: str) -> list[str]:
    """Paths into the kit named in a document, backticked or not (but not /autograder/..., which
    is Gradescope's folder)."""
    found = re.findall(r"(?<![\w./-])autograder/[\w{},./<>*-]*", text)
    return [p.rstrip(".,:;") for p in found]


def exists(path: str) -> bool:
    """`<name>` is a placeholder for any one name: autograder/checks/<module>.py."""
    pattern = re.sub(r"<[^<>]*>", "*", path)
    return any(True for _ in ROOT.glob(pattern)) if "*" in pattern else (ROOT / pattern).exists()


# The modules the move took into folders, at their old, flat paths.
OLD_FLAT = """
    sandbox.py isolation.py pool.py procs.py tripwire.py worker.py
    cluster.py forbidden.py grade.py reference.py store.py submissions.py
    exports.py feedback.py figures.py gradebook.py progress.py summary.py gradescope/
    oracle.py
""".split()


def test_doc_paths_helpers():
    assert expand_braces("autograder/{cli,config}.py") == ["autograder/cli.py", "autograder/config.py"]
    assert doc_paths("see `autograder/sandbox/pool.py`, or /autograder/source.") == ["autograder/sandbox/pool.py"]
    assert exists("autograder/checks/<module>.py") and exists("autograder/sandbox/")
    assert not exists("autograder/pool.py") and not exists("autograder/<x>/nothing.py")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_name_paths_that_exist(doc):
    text = doc.read_text()
    paths = [p for found in doc_paths(text) for p in expand_braces(found)]
    assert [p for p in paths if not exists(p)] == []
    assert [f"autograder/{old}" for old in OLD_FLAT if f"autograder/{old}" in text] == []
    # dotted names in code spans too (`autograder.sandbox.box.Sandbox`, `python -m autograder.cli`)
    code = " ".join(re.findall(r"`([^`]*)`", text))
    assert [n for n in re.findall(r"(?<![\w./-])autograder(?:\.\w+)+", code) if not resolves(n)] == []


def test_readme_names_every_stage():
    """The README's "What is where" table has a row for each stage folder."""
    text = (ROOT / "README.md").read_text()
    stages = sorted(p.parent.name for p in PKG.glob("*/__init__.py"))
    # a new stage folder needs its rules in FORBIDDEN above, and its row in the README
    assert stages == ["checks", "grading", "outputs", "sandbox"]
    assert [s for s in stages if f"`autograder/{s}/`" not in text] == []


# ---------------------------------------------------------------- kit_digest reads every folder


@pytest.fixture
def kit_copy(tmp_path, monkeypatch):
    """A copy of the kit's sources that kit_digest reads instead of the real one."""
    copy = tmp_path / "a" / "autograder"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    monkeypatch.setattr(store, "KIT_DIR", copy)
    store.kit_digest.cache_clear()
    yield copy
    store.kit_digest.cache_clear()  # the next test reads the real kit again


def test_kit_digest_changes_with_a_file_of_every_folder(kit_copy):
    """The store keys grades by kit_digest: a file it skips (a check, the worker) could change
    and the store would still hand back grades made by the old code."""
    folders = sorted({p.parent for p in kit_copy.rglob("*.py")})
    # every stage, and gradescope/ below outputs/: not vacuous if the walk stopped at the top
    expected = {".", "sandbox", "grading", "outputs", "outputs/gradescope", "checks"}
    assert {f.relative_to(kit_copy).as_posix() for f in folders} >= expected
    seen = {store.kit_digest()}
    for folder in folders:
        victim = sorted(folder.glob("*.py"))[-1]
        victim.write_text(victim.read_text() + "\n# edited\n")
        store.kit_digest.cache_clear()
        digest = store.kit_digest()
        assert digest not in seen, f"editing {victim.relative_to(kit_copy)} left kit_digest unchanged"
        seen.add(digest)


def test_kit_digest_does_not_depend_on_where_the_kit_is(kit_copy, monkeypatch):
    """Relative paths are hashed: the same kit installed elsewhere (a cluster node) keeps its keys."""
    here = store.kit_digest()
    elsewhere = kit_copy.parents[1] / "b" / "site-packages" / "autograder"
    shutil.copytree(kit_copy, elsewhere)
    monkeypatch.setattr(store, "KIT_DIR", elsewhere)
    store.kit_digest.cache_clear()
    assert store.kit_digest() == here


# ---------------------------------------------------------------- the kit as a wheel


def clean_env() -> dict[str, str]:
    """Our environment without PYTHON* variables, so nothing points back at this checkout."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}


def site_packages(python: Path | str) -> list[Path]:
    """Where `python` installs packages (purelib and platlib, often one folder)."""
    code = "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['purelib'], p['platlib']]))"
    out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=True, env=clean_env())
    return list(dict.fromkeys(Path(p) for p in json.loads(out.stdout)))


# What of our own environment the test venv must not see: this checkout's kit (its editable
# finder, any .pth hook) and its distribution. Everything else (torch, ...) is linked in.
OWN = ["autograder", "solutions", "lesson9_course_kit*", "__editable__*", "*.pth", "__pycache__", "*.egg-link"]
PIP_ENV = {**clean_env(), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


class Installed:
    """The kit built into a wheel and installed, not editable, in a venv of its own."""

    def __init__(self, base: Path):
        self.base = base
        self.src = base / "src"
        self.venv = base / "venv"
        self.python = self.venv / "bin" / "python"

    def build(self) -> None:
        # Build from a copy holding what `course gradescope-zip` ships (gradescope's KIT), as
        # setup.sh installs it: nothing of the checkout's build/ or egg-info, none left behind.
        self.src.mkdir()
        for rel in KIT:
            if (ROOT / rel).is_dir():
                shutil.copytree(ROOT / rel, self.src / rel, ignore=shutil.ignore_patterns(*CACHES, "*.pyc"))
            else:
                shutil.copy(ROOT / rel, self.src / rel)
        if importlib.util.find_spec("setuptools") is None:
            pytest.fail("building the wheel offline needs setuptools in this environment (pip install setuptools)")
        pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
        subprocess.run([*pip, "-w", str(self.base / "dist"), str(self.src)], check=True, cwd=self.base, env=PIP_ENV)
        (self.wheel,) = (self.base / "dist").glob("*.whl")

    def install(self) -> None:
        # No network: a venv of its own, with every other package of this environment linked in
        # (`--system-site-packages` would give the base Python's, not this venv's), then pip
        # installs the wheel into it, as setup.sh's `pip install /autograder/source` does.
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(self.venv)], check=True)
        self.site = site_packages(self.python)[0]
        for ours in site_packages(sys.executable):
            for entry in ours.iterdir():
                if not any(fnmatch.fnmatch(entry.name, p) for p in OWN) and not (self.site / entry.name).exists():
                    (self.site / entry.name).symlink_to(entry)
        pip = [str(self.python), "-m", "pip", "install", "--no-deps", "--no-index", "-q"]
        subprocess.run([*pip, str(self.wheel)], check=True, cwd=self.base, env=PIP_ENV)

    def run(self, *cmd: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """A command in the venv, from a folder outside the checkout."""
        work = self.base / "work"
        work.mkdir(exist_ok=True)
        env = {**clean_env(), "PATH": f"{self.venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
        return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    kit = Installed(tmp_path_factory.mktemp("wheel"))
    kit.build()
    kit.install()
    return kit


# Run in the installed venv: which copy of the kit it imports, and what the sandbox is denied
# (the argument sandbox_plan passes to isolation.plan) and allowed to read.
PLAN = textwrap.dedent(
    """
    import json, sys
    import autograder
    from autograder.sandbox import isolation, preload

    seen = {}
    real_plan = isolation.plan

    def spy(denied, probe):
        seen["denied"] = [str(d) for d in denied]
        return real_plan(denied, probe)

    isolation.plan = spy
    plan = preload.sandbox_plan(sys.argv[1])
    print(json.dumps({"file": autograder.__file__, "kit_dir": str(autograder.KIT_DIR),
                      "denied": seen.get("denied"), "readable": plan.readable}))
    """
)


@pytest.mark.slow
def test_the_sandbox_is_denied_the_whole_installed_kit(installed):
    proc = installed.run(str(installed.python), "-I", "-c", PLAN, str(ROOT))
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    kit = installed.site / "autograder"
    # the wheel's copy was imported, not this checkout's (which the venv cannot see)
    assert Path(info["file"]) == kit / "__init__.py"
    assert not Path(info["file"]).is_symlink()
    assert Path(info["kit_dir"]) == kit
    # the package's root, not only the folder of the module that builds the list (sandbox/)
    assert str(kit) in info["denied"]
    assert str(installed.site / "solutions") in info["denied"]  # the wheel's reference solutions
    assert str(ROOT) in info["denied"]  # the course folder
    # and so no folder a submission may read holds any of the kit: not the kit, nothing in it,
    # nothing above it (site-packages is opened entry by entry around it)
    for path in map(Path, info["readable"]):
        assert not (path == kit or kit in path.parents or path in kit.parents), f"{path} exposes {kit}"
    assert any(p.startswith(str(installed.site) + os.sep) for p in info["readable"])  # torch etc. stay readable


@pytest.mark.slow
def test_the_wheel_holds_every_file_of_the_kit(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for must in [
        "autograder/__init__.py",
        "autograder/sandbox/__init__.py",
        "autograder/sandbox/server.py",
        "autograder/grading/__init__.py",
        "autograder/outputs/__init__.py",
        "autograder/outputs/gradescope/__init__.py",
        "autograder/outputs/gradescope/setup.sh",
        "autograder/outputs/gradescope/run_autograder",
        "autograder/checks/__init__.py",
        "autograder/checks/oracle.py",
        "solutions/__init__.py",
    ]:
        assert must in names
    # every file of the sources it was built from: a new folder or data file cannot be left out
    for package in ("autograder", "solutions"):
        files = {p.relative_to(installed.src).as_posix() for p in kit_files(installed.src / package)}
        assert files - names == set()


@pytest.mark.slow
def test_the_installed_wheel_grades_a_sample(installed):
    out = installed.base / "work" / "grades.json"
    samples = ROOT / "samples" / "05_anneal"
    course = str(installed.venv / "bin" / "course")
    subs = [str(samples / "perfect.ipynb"), str(samples / "stubs.ipynb")]
    # --device cpu --workers 1: the same grades on any machine, and light on a small one
    options = ["--no-store", "--json", str(out), "--device", "cpu", "--workers", "1"]
    proc = installed.run(course, "--root", str(ROOT), "grade", "05_anneal", *subs, *options)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["student"]: r for r in json.loads(out.read_text())["results"]}
    perfect, stubs = results["perfect"], results["stubs"]
    assert perfect["score"] == perfect["max_score"] > 0, [e for e in perfect["exercises"] if e["status"] != "passed"]
    assert stubs["score"] == 0
    assert perfect["errors"] == [] and stubs["errors"] == []
