"""The kit against nbgrader, side by side: `course grade` and `nbgrader autograde` on the same submissions.

    python bench/compare.py --n 1 10 100 --assignments 03_minibatch_training \\
        --json bench/compare.json --plot bench/compare.png     # the README's figures (these are the defaults)
    python bench/compare.py --n 1 10 --tools kit floor --json /tmp/c.json --plot /tmp/c.png   # quick, no nbgrader

Run it from the kit's virtual environment (`course` and `nbgrader` on its PATH). `--keep` keeps the
temporary folder: the submissions, each tool's log, the kit's report and nbgrader's course folder.

For each assignment and each N it builds N submissions in a temporary folder, in nbgrader's
layout `submitted/<student>/<assignment>/<assignment>.ipynb`:

- a realistic mix made from `samples/<a>/{perfect,buggy,stubs}.ipynb`, in a fixed pattern of ten
  (6 perfect, 3 buggy, 1 stubs), plus exactly one that hangs: the perfect notebook in which one
  exercise's function (`--hang`, default: the assignment's third exercise; `--hang none` leaves it
  out) starts with a loop that never ends. For N = 1 the one submission is a perfect one (the
  single-submission latency is about an ordinary notebook; a hanging one takes its time limits by
  design: in nbgrader the cell timeout for each cell that calls the function, in the kit the
  `[limits] exercise_timeout` of that exercise, the hang being met by its checks).
- every notebook is a distinct file (a closing markdown cell and notebook metadata name the
  student), so nothing can be served from a cache.

Then it times, one after the other, on that machine:

1. the kit: `course grade <a> <tmp>/submitted --no-store --json ... --seed 0` as a subprocess, the
   way an instructor runs it (`--workers` defaults to the machine's cores);
2. nbgrader: `nbgrader autograde <a> --Execute.timeout=<cell_timeout>` in an nbgrader course folder
   set up (untimed) from the kit's own files: `nbgrader_config.py` with a course id,
   `source/<a>/<a>.ipynb` copied from the kit, `course.toml` (the notebooks read their data
   settings from it), `nbgrader db assignment add` + `nbgrader generate_assignment`, and the
   students imported into the gradebook. nbgrader runs every cell of each notebook in a fresh
   kernel and grades the visible and hidden test cells. Its per-cell timeout is the kit's
   `[limits] cell_timeout` (course.toml), so the hanging submission ends for both. Its exit status
   and an `autograded/` notebook for every submission are checked; failures are reported, not
   hidden;
3. the floor: `python -c "import torch"` (once to warm the page cache, then `--repeats` times, median).

Per tool and N it records the wall time, the latency per submission (wall / N; for N = 1 the
single latency, the median of `--repeats` runs for the kit), the throughput (submissions/s), and
the peak memory of the tool's whole process tree: psutil polls the tree every 0.1 s and sums the
RSS of its processes (`peak_tree_rss_mib`; forked processes share pages, which RSS counts once
per process, so it overstates the kit's forks), every 0.5 s the PSS, which shares each page among
the processes that map it (`peak_tree_pss_mib`), and the largest single process's RSS
(`peak_process_rss_mib`).
Then the ratios (kit vs nbgrader throughput; single-submission latency vs the floor), the scores
each tool gave each kind of submission (a sanity check that both graded), and the load on the
machine: the 1-minute load average before and during each run, and the cores that processes other
than the measured tool kept busy over 2 s just before it (`other_cpu_cores_before`) and during it
(`other_cpu_cores`: system busy time minus the tool tree's CPU time, per second of wall time;
approximate). It prints a table, writes JSON (`--json`) and plots throughput
against N for both tools (`--plot`, log axes).

Targets (issue 6; measured and reported, never asserted in tests): N = 100 of
03_minibatch_training: at least 30x nbgrader's throughput; one submission: at most 1.5x the floor;
peak memory flat in N (no growth from 10 to 100); CUDA checks add under 1 s a submission (only
where a GPU exists). nbgrader at N = 100 takes many minutes (`--nbgrader-timeout` bounds it).
"""

from __future__ import annotations

import argparse
import ast
import copy
import csv
import datetime
import json
import os
import platform
import random
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PATTERN = ["perfect", "perfect", "buggy", "perfect", "stubs", "perfect", "buggy", "perfect", "perfect", "buggy"]
MIB = 1024 * 1024


# ---------------------------------------------------------------- submissions


def hang_cell(source: str) -> str:
    """`source` with a loop that never ends at the top of its first function's body (after the docstring)."""
    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    first = fn.body[0]
    doc = (
        isinstance(first, ast.Expr)
        and isinstance(getattr(first, "value", None), ast.Constant)
        and isinstance(first.value.value, str)
    )
    after = first.end_lineno if doc else first.lineno - 1  # insert after this (1-based) line
    indent = " " * first.col_offset
    lines = source.splitlines()
    loop = [
        f"{indent}done = False",
        f"{indent}while not done:   # the condition that should end it is never set",
        f"{indent}    pass",
    ]
    return "\n".join(lines[:after] + loop + lines[after:]) + ("\n" if source.endswith("\n") else "")


def mix(n: int, hang: bool = True) -> list[str]:
    """The kinds of the N submissions: the pattern of ten, with one `hang` in the middle (N >= 2)."""
    if n == 1:
        return ["perfect"]
    if not hang:
        return [PATTERN[i % len(PATTERN)] for i in range(n)]
    kinds = [PATTERN[i % len(PATTERN)] for i in range(n - 1)]
    kinds.insert((n - 1) // 2, "hang")
    return kinds


def build_submissions(a: str, n: int, submitted: Path, hang_ex: str | None) -> list[dict]:
    samples = {k: json.loads((ROOT / "samples" / a / f"{k}.ipynb").read_text()) for k in ("perfect", "buggy", "stubs")}
    if hang_ex:
        hang = copy.deepcopy(samples["perfect"])
        cells = [c for c in hang["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == hang_ex]
        if len(cells) != 1:
            sys.exit(f"--hang {hang_ex}: no single solution cell of {a} with that grade_id")
        cells[0]["source"] = hang_cell("".join(cells[0]["source"]))
        samples["hang"] = hang
    subs = []
    for i, kind in enumerate(mix(n, hang=bool(hang_ex)), 1):
        student = f"s{i:03d}"
        nb = copy.deepcopy(samples[kind])
        nb["metadata"]["bench"] = {"student": student, "kind": kind}
        nb["cells"].append(
            {
                "cell_type": "markdown",
                "id": "student-note",
                "metadata": {},
                "source": f"Submitted by student {student} (benchmark copy {i} of {n}).",
            }
        )
        path = submitted / student / a / f"{a}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb, indent=1))
        subs.append({"student": student, "kind": kind, "path": path})
    return subs


# ---------------------------------------------------------------- measuring


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"  # the venv's `course`, `nbgrader` and the kernel's `python`
    e.pop("COURSE_SANDBOX_DEBUG", None)
    return e


def busy_cpu_s() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def kill_tree(proc: psutil.Popen) -> None:
    """Kill the process this script started and its descendants (by pid)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def other_load(seconds: float = 2.0) -> float:
    """Cores the machine's other processes keep busy while this script waits (nothing of ours runs)."""
    cpu0, t0 = busy_cpu_s(), time.perf_counter()
    time.sleep(seconds)
    return (busy_cpu_s() - cpu0) / (time.perf_counter() - t0)


def measure(cmd: list[str], cwd: Path, log: Path, timeout: float | None = None) -> dict:
    """Run `cmd`; its wall time, the peak memory of its process tree, and the machine's other load."""
    peak = {"tree": 0, "proc": 0, "procs": 0, "pss": 0}
    cpu_seen: dict[tuple[int, float], float] = {}  # (pid, start time) -> its own CPU seconds, last seen
    loads: list[float] = []
    stop = threading.Event()
    idle_before = other_load()
    load_before = os.getloadavg()[0]
    cpu0, tree0 = busy_cpu_s(), children_cpu_s()
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = psutil.Popen(cmd, cwd=cwd, env=env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def poll() -> None:
            tick = 0
            while not stop.is_set():
                try:
                    procs = [proc, *proc.children(recursive=True)]
                except psutil.NoSuchProcess:
                    procs = []
                total = pss = 0
                for p in procs:
                    try:
                        t = p.cpu_times()
                        cpu_seen[(p.pid, p.create_time())] = t.user + t.system
                        rss = p.memory_info().rss
                        total += rss
                        peak["proc"] = max(peak["proc"], rss)
                        if tick % 5 == 0:  # PSS reads smaps_rollup (a few ms a process): every 0.5 s
                            pss += p.memory_full_info().pss
                    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                        continue
                tick += 1
                peak["tree"] = max(peak["tree"], total)
                peak["pss"] = max(peak["pss"], pss)
                peak["procs"] = max(peak["procs"], len(procs))
                loads.append(os.getloadavg()[0])
                stop.wait(0.1)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            rc = proc.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            kill_tree(proc)
            rc = proc.wait()
            timed_out = True
        wall = time.perf_counter() - start
        stop.set()
        watcher.join()
    # the tool's CPU: rusage of the reaped tree, or what polling saw, whichever is larger (processes
    # reaped by none of ours, such as a killed pool's last forks, escape rusage; short ones escape polling)
    tree_cpu = max(children_cpu_s() - tree0, sum(cpu_seen.values()))
    other = max(0.0, busy_cpu_s() - cpu0 - tree_cpu)
    return {
        "command": shlex.join(str(c) for c in cmd),
        "rc": rc,
        "timed_out": timed_out,
        "wall_s": wall,
        "peak_tree_rss_mib": peak["tree"] / MIB,
        "peak_tree_pss_mib": peak["pss"] / MIB,
        "peak_process_rss_mib": peak["proc"] / MIB,
        "max_processes": peak["procs"],
        "tool_cpu_s": tree_cpu,
        "other_cpu_cores": other / wall if wall > 0 else 0.0,
        "other_cpu_cores_before": idle_before,
        "loadavg_before": load_before,
        "loadavg_max": max(loads, default=load_before),
    }


def run_untimed(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{what} failed (exit {proc.returncode}): {shlex.join(cmd)}\n{proc.stdout}{proc.stderr}")


# ---------------------------------------------------------------- the tools


def score_summary(subs: list[dict], scores: dict[str, float | None]) -> dict:
    """Per kind of submission: the scores a tool gave, as [min, max] (None: not graded)."""
    out: dict[str, list] = {}
    for s in subs:
        out.setdefault(s["kind"], []).append(scores.get(s["student"]))
    return {k: ([min(v), max(v)] if None not in v else v) for k, v in out.items()}


def run_kit(
    a: str, subs: list[dict], folder: Path, workers: int | None, hang_ex: str, max_score: float, seed: int = 0
) -> dict:
    report = folder / "kit-report.json"
    cmd = [
        str(BIN / "course"),
        "grade",
        a,
        str(folder / "nbgrader" / "submitted"),
        "--no-store",
        "--seed",
        str(seed),
        "--json",
        str(report),
    ]
    if workers:
        cmd += ["--workers", str(workers)]
    row = measure(cmd, ROOT, folder / "kit.log")
    problems = []
    results = json.loads(report.read_text())["results"] if report.is_file() else []
    if row["rc"] != 0:
        problems.append(f"course grade exited {row['rc']} (log: {folder / 'kit.log'})")
    by_student = {r["student"]: r for r in results}
    missing = [s["student"] for s in subs if s["student"] not in by_student]
    if missing:
        problems.append(f"no result for {len(missing)} submission(s): {', '.join(missing[:5])}")
    scores = {st: r["score"] for st, r in by_student.items()}
    for s in subs:
        r = by_student.get(s["student"])
        if r is None:
            continue
        status = {e["id"]: e["status"] for e in r["exercises"]}
        if s["kind"] == "perfect" and r["score"] != max_score:
            problems.append(f"{s['student']} (perfect) scored {r['score']:g}/{max_score:g}: {status}")
        if s["kind"] == "stubs" and r["score"] != 0:
            problems.append(f"{s['student']} (stubs) scored {r['score']:g}")
        if s["kind"] == "hang":
            row["hang"] = {"student": s["student"], "score": r["score"], "statuses": status, "errors": r["errors"]}
            if status.get(hang_ex) != "timeout":
                problems.append(f"{s['student']} (hangs in {hang_ex}): {hang_ex} is {status.get(hang_ex)}, not timeout")
    row.update(scores_by_kind=score_summary(subs, scores), problems=problems)
    return row


def setup_nbgrader(a: str, course: Path, subs: list[dict]) -> None:
    """An nbgrader course folder from the kit's files; `submitted/` is already there."""
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        'c.CourseDirectory.course_id = "lesson9-bench"\n'
        f'c.CourseDirectory.db_url = "sqlite:///{course / "gradebook.db"}"\n'
    )
    shutil.copy(ROOT / "course.toml", course / "course.toml")
    (course / "source" / a).mkdir(parents=True)
    shutil.copy(ROOT / "source" / a / f"{a}.ipynb", course / "source" / a / f"{a}.ipynb")
    nbgrader = str(BIN / "nbgrader")
    run_untimed([nbgrader, "db", "assignment", "add", a], course, "nbgrader db assignment add")
    run_untimed([nbgrader, "generate_assignment", a, "--force"], course, "nbgrader generate_assignment")
    with open(course / "students.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "first_name", "last_name", "email"])
        for s in subs:
            w.writerow([s["student"], "Student", s["student"], f"{s['student']}@example.org"])
    run_untimed([nbgrader, "db", "student", "import", "students.csv"], course, "nbgrader db student import")


def run_nbgrader(a: str, subs: list[dict], course: Path, cell_timeout: float, timeout: float, max_score: float) -> dict:
    cmd = [str(BIN / "nbgrader"), "autograde", a, f"--Execute.timeout={int(cell_timeout)}"]
    row = measure(cmd, course, course / "nbgrader.log", timeout)
    problems = []
    if row["timed_out"]:
        problems.append(f"stopped after {timeout:.0f} s (--nbgrader-timeout)")
    if row["rc"] != 0:
        problems.append(f"nbgrader autograde exited {row['rc']} (log: {course / 'nbgrader.log'})")
    made = [s for s in subs if (course / "autograded" / s["student"] / a / f"{a}.ipynb").is_file()]
    row["autograded"] = len(made)
    if len(made) != len(subs):
        missing = sorted({s["student"] for s in subs} - {s["student"] for s in made})
        problems.append(f"no autograded notebook for {len(missing)} of {len(subs)}: {', '.join(missing[:5])}")
    log = (course / "nbgrader.log").read_text(errors="replace")
    lines = log.splitlines()
    # a cell that times out logs "Timeout waiting for execute reply" and "Interrupting kernel" (expected: the hang)
    row["cell_timeouts"] = sum("Timeout waiting for execute reply" in line for line in lines)
    errors = [
        line
        for line in lines
        if "| ERROR]" in line and "Timeout waiting for execute reply" not in line and "Interrupting kernel" not in line
    ]
    if errors:
        problems.append(f"{len(errors)} ERROR line(s) in nbgrader's log, the first: {errors[0][:200]}")
    row["checksum_warnings"] = sorted(
        {line.split("for cell ")[1].split(" ")[0] for line in lines if "Attribute 'checksum' for cell" in line}
    )
    scores: dict[str, float | None] = {}
    try:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
            for s in subs:
                try:
                    scores[s["student"]] = gb.find_submission(a, s["student"]).score
                except MissingEntry:
                    scores[s["student"]] = None
    except Exception as e:  # the gradebook is a check, not the measurement
        problems.append(f"could not read nbgrader's gradebook: {e}")
    for s in subs:
        sc = scores.get(s["student"])
        if s["kind"] == "perfect" and sc is not None and sc != max_score:
            problems.append(f"{s['student']} (perfect) scored {sc:g}/{max_score:g} in nbgrader")
        if s["kind"] == "hang":
            row["hang"] = {"student": s["student"], "score": sc}
    row.update(scores_by_kind=score_summary(subs, scores), problems=problems)
    return row


def run_floor(folder: Path, repeats: int) -> dict:
    subprocess.run([sys.executable, "-c", "import torch"], env=env(), check=True)  # warm the page cache first
    runs = [measure([sys.executable, "-c", "import torch"], folder, folder / "floor.log") for _ in range(repeats)]
    walls = [r["wall_s"] for r in runs]
    row = min(runs, key=lambda r: abs(r["wall_s"] - statistics.median(walls)))
    return {
        **row,
        "wall_s": statistics.median(walls),
        "samples_s": walls,
        "peak_tree_rss_mib": max(r["peak_tree_rss_mib"] for r in runs),
        "peak_tree_pss_mib": max(r["peak_tree_pss_mib"] for r in runs),
        "peak_process_rss_mib": max(r["peak_process_rss_mib"] for r in runs),
        "problems": [],
    }


# ---------------------------------------------------------------- report


def finish(row: dict, a: str, n: int, tool: str) -> dict:
    row = {"assignment": a, "n": n, "tool": tool, **row}
    row["per_submission_s"] = row["wall_s"] / n
    row["throughput_per_s"] = n / row["wall_s"]
    return row


def ratios(rows: list[dict], a: str) -> list[dict]:
    out = []
    floor = next((r for r in rows if r["assignment"] == a and r["tool"] == "floor"), None)
    for n in sorted({r["n"] for r in rows if r["assignment"] == a and r["tool"] != "floor"}):
        kit = next((r for r in rows if (r["assignment"], r["n"], r["tool"]) == (a, n, "kit")), None)
        nbg = next((r for r in rows if (r["assignment"], r["n"], r["tool"]) == (a, n, "nbgrader")), None)
        q = {"assignment": a, "n": n}
        if kit and nbg:
            q["kit_vs_nbgrader_throughput"] = kit["throughput_per_s"] / nbg["throughput_per_s"]
        if n == 1 and floor:
            for tool, r in (("kit", kit), ("nbgrader", nbg)):
                if r:
                    q[f"{tool}_latency_vs_floor"] = r["wall_s"] / floor["wall_s"]
        out.append(q)
    return out


def targets(rows: list[dict], qs: list[dict]) -> list[dict]:
    out = []
    q100 = next((q for q in qs if q["assignment"] == "03_minibatch_training" and q["n"] == 100), None)
    got = q100.get("kit_vs_nbgrader_throughput") if q100 else None
    out.append(
        {
            "target": "N=100 of 03_minibatch_training: kit throughput >= 30x nbgrader's",
            "measured": None if got is None else f"{got:.1f}x",
            "met": None if got is None else got >= 30,
        }
    )
    for q in qs:
        if "kit_latency_vs_floor" in q:
            got = q["kit_latency_vs_floor"]
            out.append(
                {
                    "target": f"one submission of {q['assignment']}: <= 1.5x the floor (python -c 'import torch')",
                    "measured": f"{got:.2f}x",
                    "met": got <= 1.5,
                }
            )
    for a in sorted({r["assignment"] for r in rows}):
        kit = {r["n"]: r for r in rows if r["assignment"] == a and r["tool"] == "kit"}
        if 10 in kit and 100 in kit:
            m10, m100 = kit[10]["peak_tree_rss_mib"], kit[100]["peak_tree_rss_mib"]
            s10, s100 = kit[10]["peak_tree_pss_mib"], kit[100]["peak_tree_pss_mib"]
            p10, p100 = kit[10]["peak_process_rss_mib"], kit[100]["peak_process_rss_mib"]
            out.append(
                {
                    "target": f"peak memory of {a} flat from N=10 to N=100 (tree RSS and PSS within 10%)",
                    "measured": f"tree RSS {m10:.0f} -> {m100:.0f} MiB, tree PSS {s10:.0f} -> {s100:.0f} MiB, "
                    f"largest process {p10:.0f} -> {p100:.0f} MiB",
                    "met": m100 <= 1.1 * m10 and s100 <= 1.1 * s10,
                }
            )
    try:
        import torch

        gpu = torch.cuda.is_available()
    except Exception:
        gpu = False
    out.append(
        {
            "target": "CUDA checks add < 1 s a submission",
            "measured": None if not gpu else "not measured by this script",
            "met": None,
            "note": "no GPU on this machine" if not gpu else "run `course grade --device cpu` vs `--device all`",
        }
    )
    return out


def table(rows: list[dict], qs: list[dict]) -> str:
    head = (
        f"{'assignment':<22} {'N':>4}  {'tool':<9} {'wall s':>8} {'s/sub':>7} {'subs/s':>8} {'tree RSS':>9} "
        f"{'tree PSS':>9} {'proc RSS':>9} {'CPU s':>7} {'ratio':>18}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        q = next((q for q in qs if (q["assignment"], q["n"]) == (r["assignment"], r["n"])), {})
        ratio = ""
        if r["tool"] == "kit" and "kit_vs_nbgrader_throughput" in q:
            ratio = f"{q['kit_vs_nbgrader_throughput']:.1f}x nbgrader"
        if r["tool"] in ("kit", "nbgrader") and f"{r['tool']}_latency_vs_floor" in q:
            ratio = (ratio + ", " if ratio else "") + f"{q[r['tool'] + '_latency_vs_floor']:.2f}x floor"
        flag = " !" if r["problems"] else ""
        lines.append(
            f"{r['assignment']:<22} {r['n']:>4}  {r['tool']:<9} {r['wall_s']:>8.1f} {r['per_submission_s']:>7.2f} "
            f"{r['throughput_per_s']:>8.3f} {r['peak_tree_rss_mib']:>9.0f} {r['peak_tree_pss_mib']:>9.0f} "
            f"{r['peak_process_rss_mib']:>9.0f} {r['tool_cpu_s']:>7.1f} {ratio:>18}{flag}"
        )
    lines.append(
        "(memory in MiB; CPU s: the tool's process tree; ratio: kit throughput / nbgrader's, "
        "and single-submission latency / the floor's; !: see the notes)"
    )
    return "\n".join(lines)


def plot(rows: list[dict], path: Path, meta: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for a in sorted({r["assignment"] for r in rows}):
        for tool, style in (("kit", "o-"), ("nbgrader", "s-")):
            pts = sorted((r["n"], r["throughput_per_s"]) for r in rows if r["assignment"] == a and r["tool"] == tool)
            if pts:
                name = "course grade" if tool == "kit" else "nbgrader autograde"
                ax.plot(*zip(*pts, strict=True), style, label=f"{name} ({a})")
        floor = next((r for r in rows if r["assignment"] == a and r["tool"] == "floor"), None)
        if floor:
            ax.axhline(1 / floor["wall_s"], ls=":", c="gray", label="1 / (python -c 'import torch')")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("submissions N")
    ax.set_ylabel("throughput (submissions / s)")
    ax.set_title(f"Grading throughput, {meta['cores']} cores, {meta['date']}")
    if "no hanging" not in meta.get("mix", ""):
        ax.text(
            0.99,
            0.02,
            "N >= 2: one of the N submissions hangs",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="gray",
        )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def version(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=ROOT).stdout.strip()
    except OSError:
        return "?"


def make_notes(rows: list[dict], meta: dict) -> list[str]:
    """What a reader of the figures should know: a changing kit, a shared machine, each tool's problems."""
    notes = []
    if meta["kit_commit_at_end"] != meta["kit_commit"] or meta["kit_changes_at_start"] or meta["kit_changes_at_end"]:
        notes.append(
            f"the kit changed during or before the run (commit {meta['kit_commit']} -> {meta['kit_commit_at_end']}, "
            f"uncommitted: {meta['kit_changes_at_start']} -> {meta['kit_changes_at_end']}): "
            "the figures may mix versions"
        )
    # Other work is measured over 2 s before each run (nothing of ours runs then) and, for nbgrader and
    # the floor, during it. The kit's own short-lived sandbox processes escape both polling and rusage,
    # so "during" overstates other work for the kit; the load average counts our own runs too.
    busy = [
        r for r in rows if r["other_cpu_cores_before"] > 0.25 or (r["tool"] != "kit" and r["other_cpu_cores"] > 0.25)
    ]
    cores = meta.get("cores") or 1
    if busy:
        notes.append(
            f"the machine ({cores} cores) was shared with other work, which inflates the timings, most for "
            "the tool that wants every core (the kit): "
            + "; ".join(
                f"{r['tool']} N={r['n']}: other processes kept {r['other_cpu_cores_before']:.2f} cores "
                f"busy just before and about {r['other_cpu_cores']:.2f} during (load average "
                f"{r['loadavg_before']:.1f} before)"
                for r in busy
            )
        )
    else:
        notes.append(
            f"the machine ({cores} cores) was quiet: other processes kept at most "
            f"{max((r['other_cpu_cores_before'] for r in rows), default=0):.2f} cores busy just before each run"
        )
    for r in rows:
        for p in r["problems"]:
            notes.append(f"{r['tool']} N={r['n']}: {p}")
    return notes


def kit_changes() -> list[str]:
    """Uncommitted changes to what grading runs (the kit is installed editable: the working tree is what runs)."""
    out = version(
        ["git", "status", "--porcelain", "--", "autograder", "solutions", "course.toml", "release", "samples"]
    )
    return [line.strip() for line in out.splitlines() if line.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, nargs="+", default=[1, 10, 100], help="numbers of submissions (default: 1 10 100)")
    ap.add_argument("--assignments", nargs="+", default=["03_minibatch_training"])
    ap.add_argument("--tools", nargs="+", choices=["kit", "nbgrader", "floor"], default=["kit", "nbgrader", "floor"])
    ap.add_argument("--workers", type=int, help="course grade --workers (default: the kit's, the machine's cores)")
    ap.add_argument(
        "--hang",
        help="exercise whose function hangs (default: the assignment's third; "
        "none: no hanging submission, N of the mix)",
    )
    ap.add_argument("--repeats", type=int, default=5, help="runs of the floor and of the kit at N=1 (median)")
    ap.add_argument("--nbgrader-timeout", type=float, default=3600, help="seconds before nbgrader's run is stopped")
    maybe_path = lambda v: Path(v) if v else None  # noqa: E731  ("" writes nothing)
    ap.add_argument("--json", type=maybe_path, default=ROOT / "bench" / "compare.json", help='"" writes none')
    ap.add_argument("--plot", type=maybe_path, default=ROOT / "bench" / "compare.png", help='"" draws none')
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, reports, autograded/)")
    return ap.parse_args(argv)


def start_meta(args: argparse.Namespace, cell_timeout: float) -> dict:
    """What the run was made on and with, taken before it starts (the kit's commit and changes, versions)."""
    return {
        "date": datetime.date.today().isoformat(),
        "command": shlex.join(["python", *sys.argv]),
        "cores": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "torch": version([sys.executable, "-c", "import torch; print(torch.__version__)"]),
        # `nbgrader --version` may print more than the version: its last line is
        "nbgrader": (version([str(BIN / "nbgrader"), "--version"]).splitlines()[-1:] or ["?"])[0],
        "kit_commit": version(["git", "rev-parse", "--short", "HEAD"]),
        "kit_changes_at_start": kit_changes(),
        "cell_timeout_s": cell_timeout,
        "memory": "peak_tree_rss_mib: psutil polls the tool's process tree every 0.1 s and sums RSS "
        "(pages shared by forked processes counted once per process); peak_tree_pss_mib: the same tree's "
        "summed PSS (shared pages split among their processes), every 0.5 s; "
        "peak_process_rss_mib: the largest single process's RSS",
        "other_cpu_cores": "CPU used by processes other than the measured tool, per second of wall time "
        "(system busy time minus the tool tree's CPU: approximate); other_cpu_cores_before: "
        "the same over 2 s just before the run, when nothing of the benchmark runs",
        "tool_cpu_s": "CPU seconds of the tool's process tree (rusage of reaped descendants, or polled, the larger)",
        "mix": "per ten: 6 perfect, 3 buggy, 1 stubs (from samples/<a>/), plus one that hangs for N >= 2; "
        "N = 1: one perfect" + ("" if args.hang != "none" else " (--hang none: no hanging submission)"),
        "workers": args.workers or os.cpu_count(),
    }


def measured_line(row: dict) -> str:
    """The end of a tool's progress line: its peak memory, its CPU and the machine's other load."""
    return (
        f"peak tree RSS {row['peak_tree_rss_mib']:.0f} MiB (PSS {row['peak_tree_pss_mib']:.0f}), "
        f"CPU {row['tool_cpu_s']:.1f} s, other load {row['other_cpu_cores_before']:.2f} cores before, "
        f"{row['other_cpu_cores']:.2f} during" + "".join(f"\n    PROBLEM: {p}" for p in row["problems"])
    )


def time_kit(
    a: str, n: int, subs: list[dict], folder: Path, args: argparse.Namespace, hang_ex: str | None, max_score: float
) -> dict:
    """`course grade` on the N submissions (`--repeats` times for N = 1: the run nearest the median).

    N = 1 is the single-submission latency: one untimed run first (the page cache, and the expected
    values that `course grade` keeps per seed, as a second grading with the same seed finds them),
    then `--repeats` runs, each a cold process; then `--repeats` runs with a seed never used
    (`latency_new_seed_s`: the expected values computed, as on Gradescope's per-run seeds)."""
    if n == 1:
        run_kit(a, subs, folder, args.workers, hang_ex, max_score)  # untimed: warms the caches
    runs = [run_kit(a, subs, folder, args.workers, hang_ex, max_score) for _ in range(args.repeats if n == 1 else 1)]
    walls = [r["wall_s"] for r in runs]
    row = min(runs, key=lambda r: abs(r["wall_s"] - statistics.median(walls)))
    row.update(
        wall_s=statistics.median(walls),
        samples_s=walls,
        problems=sorted({p for r in runs for p in r["problems"]}),
    )
    if n == 1:
        fresh = [fresh_seed() for _ in range(args.repeats)]
        new = [run_kit(a, subs, folder, args.workers, hang_ex, max_score, seed) for seed in fresh]
        row["latency_new_seed_s"] = [r["wall_s"] for r in new]
        row["problems"] = sorted(set(row["problems"]) | {p for r in new for p in r["problems"]})
    row = finish(row, a, n, "kit")
    median = f" (median of {len(walls)})" if len(walls) > 1 else ""
    hang = ""
    if "hang" in row:
        hang = f", the hanging one: {row['hang']['score']:g} ({hang_ex}: {row['hang']['statuses'].get(hang_ex)})"
    print(
        f"  kit:      {row['wall_s']:.1f} s{median}, scores {row['scores_by_kind']}{hang}, {measured_line(row)}",
        flush=True,
    )
    if "latency_new_seed_s" in row:
        print(f"  kit, each with a new seed: {statistics.median(row['latency_new_seed_s']):.1f} s (median)", flush=True)
    return row


def fresh_seed() -> int:
    """A seed no run has used: expected values not kept yet (the grader's cache misses)."""
    return random.SystemRandom().randrange(10**6, 2**31)


# One submission graded in a subprocess the way `course grade` does (the pool server started
# before torch is imported, when the kit can), timing each stage: `grade.grade(..., profile=d)`
# where the kit's `grade` takes that keyword, plus the stages around it.
PROFILE = r"""
import inspect, json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from autograder import cli, config, report
a, path, seed, out = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
course = config.load(Path.cwd())
stages = {"cli import": time.perf_counter() - t0}
if hasattr(cli, "_start_pool"):
    cli._start_pool(course.root, course.assignment(a).module)
t = time.perf_counter()
from autograder.grading import grade
devices = grade.available_devices(course.devices)
stages["grader import (torch)"] = time.perf_counter() - t
profile, note = {}, ""
if "profile" in inspect.signature(grade.grade).parameters:
    kwargs = {"profile": profile}
else:
    kwargs, note = {}, "grade.grade takes no profile= here: its stages are not broken down"
t = time.perf_counter()
results = grade.grade(course, a, [(path.stem, path)], devices, seed, **kwargs)
stages["grade.grade"] = time.perf_counter() - t
t = time.perf_counter()
report.write_json(out, results)
profile["report"] = time.perf_counter() - t
stages["total"] = time.perf_counter() - t0
print(json.dumps({"stages": stages, "profile": profile, "note": note, "score": results[0]["score"]}))
"""


def stage_profile(a: str, path: Path, folder: Path, seed: int) -> dict:
    """Seconds per stage of grading one submission (`PROFILE`), in a cold process."""
    proc = subprocess.run(
        [sys.executable, "-c", PROFILE, a, str(path), str(seed), str(folder / "profile-report.json")],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
    )
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-500:]}"}


def profiles(a: str, subs: list[dict], folder: Path) -> dict:
    """The stage profile of one perfect submission, with the expected values kept (seed 0, as the
    timed runs) and with a new seed (computed)."""
    path = next(s["path"] for s in subs if s["kind"] == "perfect")
    out = {"expected kept (seed 0)": stage_profile(a, path, folder, 0)}
    out["new seed"] = stage_profile(a, path, folder, fresh_seed())
    for name, p in out.items():
        if "error" in p:
            print(f"  profile ({name}): FAILED: {p['error']}", flush=True)
            continue
        parts = {**p["stages"], **{f"  {k}": v for k, v in p["profile"].items()}}
        print(f"  profile ({name}): " + ", ".join(f"{k.strip()} {v:.2f} s" for k, v in parts.items()), flush=True)
        if p["note"]:
            print(f"    note: {p['note']}", flush=True)
    return out


def time_nbgrader(
    a: str, n: int, subs: list[dict], course: Path, args: argparse.Namespace, cell_timeout: float, max_score: float
) -> dict:
    """`nbgrader autograde` on the same N submissions, in a course folder set up untimed."""
    setup_nbgrader(a, course, subs)
    row = run_nbgrader(a, subs, course, cell_timeout, args.nbgrader_timeout, max_score)
    row = finish(row, a, n, "nbgrader")
    print(
        f"  nbgrader: {row['wall_s']:.1f} s, {row['autograded']}/{n} autograded, "
        f"{row['cell_timeouts']} cell timeout(s), scores {row['scores_by_kind']}, {measured_line(row)}",
        flush=True,
    )
    return row


def run_tools(args: argparse.Namespace, raw: dict, tmp: Path, profiled: dict) -> list[dict]:
    """The floor once, then per assignment and N: build the submissions and time each tool on them
    (and for N = 1, the kit's stage profile, into `profiled`)."""
    cell_timeout = float(raw["limits"]["cell_timeout"])
    rows: list[dict] = []
    if "floor" in args.tools:
        print(f"floor: python -c 'import torch' x {args.repeats}", flush=True)
        floor = run_floor(tmp, args.repeats)
        rows += [finish(dict(floor), a, 1, "floor") for a in args.assignments]
    for a in args.assignments:
        exercises = list(raw["assignments"][a]["points"])
        max_score = float(sum(raw["assignments"][a]["points"].values()))
        hang_ex = None if args.hang == "none" else args.hang or exercises[min(2, len(exercises) - 1)]
        for n in args.n:
            folder = tmp / a / f"n{n}"
            course = folder / "nbgrader"
            subs = build_submissions(a, n, course / "submitted", hang_ex)
            kinds = {k: sum(s["kind"] == k for s in subs) for k in ("perfect", "buggy", "stubs", "hang")}
            print(f"\n{a}, N={n}: {kinds}" + (f" (hang in {hang_ex})" if hang_ex else ""), flush=True)
            if "kit" in args.tools:
                rows.append(time_kit(a, n, subs, folder, args, hang_ex, max_score))
                if n == 1:
                    profiled[a] = profiles(a, subs, folder)
            if "nbgrader" in args.tools:
                rows.append(time_nbgrader(a, n, subs, course, args, cell_timeout, max_score))
    return rows


def latency(rows: list[dict], profiled: dict) -> list[dict]:
    """Per assignment: one submission's `course grade` in floors, with the expected values kept
    and with a new seed, and where its time goes."""
    out = []
    for a in sorted({r["assignment"] for r in rows}):
        kit = next((r for r in rows if (r["assignment"], r["n"], r["tool"]) == (a, 1, "kit")), None)
        floor = next((r for r in rows if r["assignment"] == a and r["tool"] == "floor"), None)
        if kit is None:
            continue
        entry = {"assignment": a, "kept_s": kit["samples_s"], "kept_median_s": kit["wall_s"]}
        if kit.get("latency_new_seed_s"):
            entry["new_seed_s"] = kit["latency_new_seed_s"]
            entry["new_seed_median_s"] = statistics.median(kit["latency_new_seed_s"])
        if floor:
            entry["floor_s"] = floor["wall_s"]
            entry["kept_floors"] = kit["wall_s"] / floor["wall_s"]
            if "new_seed_median_s" in entry:
                entry["new_seed_floors"] = entry["new_seed_median_s"] / floor["wall_s"]
        entry["profile"] = profiled.get(a)
        out.append(entry)
    return out


def latency_text(entries: list[dict]) -> str:
    lines = ["one submission (`course grade`, a cold process each run; floor: python -c 'import torch'):"]
    for e in entries:

        def floors(key: str, e: dict = e) -> str:
            return f" = {e[key]:.2f} floors" if key in e else ""

        line = f"  {e['assignment']}: expected values kept {e['kept_median_s']:.2f} s{floors('kept_floors')}"
        if "new_seed_median_s" in e:
            line += f"; a new seed {e['new_seed_median_s']:.2f} s{floors('new_seed_floors')}"
        lines.append(line + " (medians)")
        for name, p in (e.get("profile") or {}).items():
            if "error" in p:
                lines.append(f"    stages ({name}): not measured: {p['error'][:200]}")
                continue
            inner = ", ".join(f"{k} {v:.2f}" for k, v in p["profile"].items())
            outer = ", ".join(f"{k} {v:.2f}" for k, v in p["stages"].items())
            lines.append(f"    stages ({name}), s: {outer}; in grade.grade and after: {inner}")
            if p.get("note"):
                lines.append(f"      ({p['note']})")
    return "\n".join(lines)


def report(args: argparse.Namespace, rows: list[dict], meta: dict, profiled: dict | None = None) -> None:
    """The ratios, targets and notes: printed as a table, written as JSON (`--json`) and plotted (`--plot`)."""
    meta["kit_commit_at_end"] = version(["git", "rev-parse", "--short", "HEAD"])
    meta["kit_changes_at_end"] = kit_changes()
    qs = [q for a in args.assignments for q in ratios(rows, a)]
    goals = targets(rows, qs)
    notes = make_notes(rows, meta)
    single = latency(rows, profiled or {})
    print("\n" + table(rows, qs))
    if single:
        print("\n" + latency_text(single))
    print(f"\nmemory: {meta['memory']}")
    print("\ntargets:")
    for g in goals:
        met = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        print(f"  [{met}] {g['target']}: {g['measured'] or g.get('note', '')}")
    if notes:
        print("\nnotes:")
        for n in notes:
            print(f"  - {n}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "runs": rows,
                    "ratios": qs,
                    "single_submission": single,
                    "targets": goals,
                    "notes": notes,
                },
                indent=1,
                default=str,
            )
            + "\n"
        )
        print(f"\nwrote {args.json}")
    if args.plot:
        plot(rows, args.plot, meta)
        print(f"wrote {args.plot}")


def main() -> None:
    args = parse_args()
    with open(ROOT / "course.toml", "rb") as f:
        raw = tomllib.load(f)
    meta = start_meta(args, float(raw["limits"]["cell_timeout"]))
    tmp = Path(tempfile.mkdtemp(prefix="course-compare-"))
    profiled: dict = {}
    try:
        rows = run_tools(args, raw, tmp, profiled)
    finally:
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    report(args, rows, meta, profiled)


if __name__ == "__main__":
    main()
