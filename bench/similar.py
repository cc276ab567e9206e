"""How long `course similar` takes on a class: N generated notebooks of 03_minibatch_training.

    python bench/similar.py [--students 500] [--workers 2] [--json bench/similar.json]

With chromium and chromedriver installed it also loads the page in headless Chromium and times it
(navigation start to the load event), as an instructor opens it.

Each generated student takes, per exercise that leaves room for choices, one of the six
students' styles of `tests/similar_class.py` with names of their own, methods in either order,
a few lines of their own (prints, asserts) and, half of them, comments, blank lines and no-op
lines; one in 25 hands in a disguised copy of another's notebook. It then runs `course similar`
on them as an instructor would (a fresh process: imports, reading, fingerprinting, comparing,
writing the page and the CSV) and prints the wall time, and whether the planted copies were the
pairs it flagged. Timings are measurements for the README, never assertions in tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import similar_class as sc  # noqa: E402

COPY_EVERY = 25


def render_seconds(page: Path) -> float | None:
    """Seconds headless Chromium takes to load and lay out the page; None without Chromium."""
    import shutil

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    try:
        start = time.perf_counter()
        driver.get(page.as_uri())  # returns once the load event has fired
        driver.execute_script("return document.documentElement.scrollHeight")  # layout done
        return time.perf_counter() - start
    finally:
        driver.quit()


def own_lines(code: str, rng: random.Random) -> str:
    """What makes a student's code their own beyond a style: here, checks and prints of their
    own after some of the statements (real students differ more)."""
    out = []
    lines = code.rstrip("\n").split("\n")
    for line, end in zip(lines, sc.simple_ends(lines), strict=True):
        out.append(line)
        body = line.lstrip(" ")
        if end and not body.startswith(("return", '"', "yield")) and rng.random() < 0.25:
            indent = line[: len(line) - len(body)]
            out.append(indent + rng.choice(["print('here', {})", "assert {} is not None"]).format(rng.randrange(10**6)))
    return "\n".join(out) + "\n"


def student_cells(rng: random.Random) -> dict[str, str]:
    """One student's code: a style per exercise, own names, own order, own noise, own lines."""
    local = sorted({n for names in sc.RENAMES for n in names})
    cells = {}
    for ex in sc.STYLES["ada"]:
        code = sc.STYLES[rng.choice(sorted(sc.STYLES))][ex]
        names = {n: f"{n}_{rng.randrange(100)}" for n in local if rng.random() < 0.5}
        code = sc.rename(code, names)
        code = own_lines(code, rng)
        if rng.random() < 0.5:
            code = sc.reorder_methods(code)
        if rng.random() < 0.5:
            code = sc.add_noise(code, f"s{rng.randrange(10**6)}")
        cells[ex] = code
    return cells


def build(n: int, out: Path, seed: int = 0) -> tuple[list[Path], set[tuple[str, str]]]:
    rng = random.Random(seed)
    base = ROOT / "samples" / sc.A / "perfect.ipynb"
    own: dict[str, dict[str, str]] = {}
    planted = set()
    for i in range(n):
        name = f"s{i:04d}"
        if i and i % COPY_EVERY == 0:
            original = f"s{rng.randrange(i):04d}"
            while original in {a for a, _ in planted} | {b for _, b in planted}:
                original = f"s{rng.randrange(i):04d}"
            names = rng.choice(sc.RENAMES)
            own[name] = sc.disguise(own[original], names, name)
            planted.add((original, name))
        else:
            own[name] = student_cells(rng)
    paths = [sc.notebook_with(base, cells, out / f"{name}.ipynb") for name, cells in own.items()]
    return paths, planted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=500)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-similar-") as tmp:
        paths, planted = build(args.students, Path(tmp) / "class")
        course = Path(sys.executable).with_name("course")
        cmd = [str(course), "--root", str(ROOT), "similar", sc.A, *map(str, paths)]
        cmd += ["--out", str(Path(tmp) / "report"), "--workers", str(args.workers)]
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        load = os.getloadavg()[0]
        if proc.returncode:
            sys.exit(proc.stderr)
        with open(Path(tmp) / "report" / f"{sc.A}-similar.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        page = Path(tmp) / "report" / f"{sc.A}-similar.html"
        page_bytes = page.stat().st_size
        render = render_seconds(page)
    flagged = {tuple(sorted((r["student_a"], r["student_b"]))) for r in rows if r["flagged"] == "yes"}
    planted = {tuple(sorted(p)) for p in planted}
    result = {
        "students": args.students,
        "workers": args.workers,
        "cores": os.cpu_count(),
        "seconds": round(wall, 1),
        "load_average": round(load, 1),  # other work on the machine meanwhile (1-minute average)
        "pairs_sharing_anything": len(rows),
        "planted_copies": len(planted),
        "planted_flagged": len(planted & flagged),
        "other_pairs_flagged": len(flagged - planted),
        "page_bytes": page_bytes,
        "render_seconds": None if render is None else round(render, 2),  # headless Chromium
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
