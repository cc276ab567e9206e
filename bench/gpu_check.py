"""The reading half of bench/gpu.sh: what the machine is, and what the runs in its work folder showed.

    python3 bench/gpu_check.py env OUT.json         # Python, torch, CUDA and the GPU, as torch sees them
    python3 bench/gpu_check.py summary WORK GPU.json  # gpu.json from WORK, a one-screen summary; exit 1 on a failure

Standard library only (torch only in `env`), so the summary is written however far the run got.
WORK holds, as gpu.sh leaves them: steps.tsv (one line per step: name, status, rc, seconds, command),
env.json, nvidia-smi.txt, cuda-tests.xml (pytest's JUnit XML), samples-<assignment>.json (the grade
report of the four samples, --device all) and time-<assignment>-<device>-<i>.json (one perfect
notebook graded with --device cpu or all), with their wall times in steps.tsv.
"""

from __future__ import annotations

import json
import socket
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ASSIGNMENTS = ["02_init", "03_minibatch_training", "04_callbacks", "05_anneal"]
SAMPLES = ["perfect", "buggy", "stubs", "lesson"]


def env(out: str) -> int:
    info: dict = {"python": sys.version.split()[0], "executable": sys.executable}
    try:
        import torch

        info |= {
            "torch": torch.__version__,
            "torch_cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "cuda_available": torch.cuda.is_available(),
            "device_count": torch.cuda.device_count(),
        }
        if info["cuda_available"]:
            p = torch.cuda.get_device_properties(0)
            info |= {
                "gpu_name": p.name,
                "capability": f"{p.major}.{p.minor}",
                "gpu_memory_gib": round(p.total_memory / 2**30, 1),
                "multiprocessors": p.multi_processor_count,
            }
    except Exception as e:  # recorded, not raised: the summary says what went wrong
        info["error"] = f"{type(e).__name__}: {e}"
    Path(out).write_text(json.dumps(info, indent=1))
    print(json.dumps(info, indent=1))
    return 0


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _steps(work: Path) -> list[dict]:
    out = []
    try:
        lines = (work / "steps.tsv").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        name, status, rc, seconds, command = (line.split("\t") + [""] * 5)[:5]
        out.append(
            {
                "name": name,
                "status": status,
                "rc": int(rc or 0),
                "seconds": round(float(seconds or 0), 2),
                "command": command,
            }
        )
    return out


def _cuda_tests(work: Path) -> dict | None:
    try:
        root = ET.parse(work / "cuda-tests.xml").getroot()
    except (OSError, ET.ParseError):
        return None
    tests = []
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = case.find(tag)
            if el is not None:
                outcome, message = ("failed" if tag == "failure" else tag), (el.get("message") or "")[:300]
                break
        tests.append(
            {"name": case.get("name"), "outcome": outcome, "seconds": float(case.get("time") or 0), "message": message}
        )
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "error", "skipped")}
    return counts | {"tests": tests}


def _per_device(result: dict) -> dict[str, list[int]]:
    """device -> [checks passed, checks run] over every exercise."""
    out: dict[str, list[int]] = {}
    for ex in result.get("exercises", []):
        for c in ex.get("checks", []):
            n = out.setdefault(c.get("device", "?"), [0, 0])
            n[0] += bool(c.get("passed"))
            n[1] += 1
    return out


def _samples(work: Path, cuda: bool, failures: list[str]) -> dict:
    out = {}
    for a in ASSIGNMENTS:
        report = _read_json(work / f"samples-{a}.json")
        if report is None:
            failures.append(f"samples {a}: no grade report")
            continue
        got = {r["student"]: r for r in report.get("results", [])}
        out[a] = {"isolation": next(iter(got.values()), {}).get("isolation")}
        for s in SAMPLES:
            r = got.get(s)
            if r is None:
                failures.append(f"samples {a}/{s}: not in the report")
                continue
            dev = _per_device(r)
            out[a][s] = {
                "score": r.get("score"),
                "max_score": r.get("max_score"),
                "devices": r.get("devices"),
                "checks_passed_by_device": dev,
                "statuses": {e["id"]: e["status"] for e in r.get("exercises", [])},
                "errors": r.get("errors", []),
            }
            want = ["cpu", "cuda"] if cuda else ["cpu"]
            if sorted(dev) != want:
                failures.append(f"samples {a}/{s}: checks ran on {sorted(dev)}, not {want}")
            if s == "perfect":
                if r.get("score") != r.get("max_score"):
                    failures.append(f"samples {a}/perfect: {r.get('score')}/{r.get('max_score')}, not full marks")
                for d, (p, n) in dev.items():
                    if p != n:
                        failures.append(f"samples {a}/perfect: {p}/{n} checks passed on {d}")
            if s == "stubs":
                if r.get("score") != 0:
                    failures.append(f"samples {a}/stubs: {r.get('score')}, not 0")
                for d, (p, n) in dev.items():
                    if p:
                        failures.append(f"samples {a}/stubs: {p}/{n} checks passed on {d}")
    return out


def _timing(work: Path, steps: list[dict], failures: list[str]) -> dict:
    walls = {s["name"]: s for s in steps if s["name"].startswith("time-")}
    out = {}
    for a in ASSIGNMENTS:
        row: dict = {}
        for d in ("cpu", "all"):
            runs = sorted(s for s in walls if s.startswith(f"time-{a}-{d}-"))
            ok = []
            for name in runs:
                report = _read_json(work / f"{name}.json")
                full = bool(report) and all(r["score"] == r["max_score"] for r in report.get("results", []))
                if walls[name]["status"] == "ok" and full:
                    ok.append(walls[name]["seconds"])
                elif walls[name]["status"] == "ok":
                    failures.append(f"timing {name}: the perfect notebook did not get full marks")
            row[d] = ok
            row[f"{d}_s"] = min(ok) if ok else None
        if row["cpu_s"] is not None and row["all_s"] is not None:
            row["cuda_extra_s"] = round(row["all_s"] - row["cpu_s"], 2)
        out[a] = row
    return out


def summary(work_dir: str, out: str) -> int:
    work = Path(work_dir)
    failures: list[str] = []
    steps = _steps(work)
    info = _read_json(work / "env.json") or {}
    cuda = bool(info.get("cuda_available"))
    if not cuda:
        failures.append(
            "no CUDA device: torch.cuda.is_available() is False "
            f"(torch {info.get('torch', '?')}, built for CUDA {info.get('torch_cuda')})"
        )
    for s in steps:
        if s["status"] != "ok":
            failures.append(f"step {s['name']}: {s['status']} (rc {s['rc']}, {s['seconds']:.0f} s)")
    tests = _cuda_tests(work)
    if tests is None:
        failures.append("tests/test_cuda.py: no result (see gpu.log)")
    else:
        if tests["skipped"]:
            failures.append(f"tests/test_cuda.py: {tests['skipped']} test(s) skipped: the CUDA tests must run")
        if tests["failed"] or tests["error"]:
            failures.append(f"tests/test_cuda.py: {tests['failed']} failed, {tests['error']} error(s)")
    samples = _samples(work, cuda, failures)
    timing = _timing(work, steps, failures)
    try:
        smi = (work / "nvidia-smi.txt").read_text()
    except OSError:
        smi = ""
    try:
        commit = (work / "commit.txt").read_text().strip()
    except OSError:
        commit = "unknown"
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "kit_commit": commit,
        "ok": not failures,
        "failures": failures,
        "elapsed_s": round(sum(s["seconds"] for s in steps), 1),
        "env": info,
        "nvidia_smi": smi,
        "steps": steps,
        "cuda_tests": tests,
        "samples": samples,
        "timing": {
            "what": "wall time of one `course grade --no-store --seed 1` of one perfect notebook, start-up included "
            "(imports, the pool's boot, the expected values); the least of the repeats; all = cpu + cuda",
            **timing,
        },
    }
    Path(out).write_text(json.dumps(report, indent=1))

    gpu = info.get("gpu_name") or "no GPU"
    print("=" * 78)
    print(f"GPU check  {report['when']}  kit {commit}  host {report['host']}")
    print(
        f"  {gpu}; torch {info.get('torch', '?')} (CUDA {info.get('torch_cuda')}, "
        f"cudnn {info.get('cudnn')}); Python {info.get('python', '?')}"
    )
    if tests is not None:
        print(
            f"  tests/test_cuda.py: {tests['passed']} passed, {tests['failed']} failed, "
            f"{tests['error']} error(s), {tests['skipped']} skipped"
        )
    print("  samples (--device all)            perfect      buggy        stubs        lesson")
    for a, got in samples.items():
        cells = [f"{got[s]['score']:.4g}/{got[s]['max_score']:g}" if s in got else "-" for s in SAMPLES]
        print(f"    {a:<32}" + "".join(f"{c:<13}" for c in cells))
    print("  one perfect notebook, wall s:     cpu    cpu+cuda  cuda's extra")
    for a, row in timing.items():
        cpu, both = row.get("cpu_s"), row.get("all_s")
        extra = row.get("cuda_extra_s")
        print(
            f"    {a:<30}{cpu if cpu is not None else '-':>7}{both if both is not None else '-':>10}"
            f"{extra if extra is not None else '-':>12}"
        )
    print(f"  steps: {sum(s['status'] == 'ok' for s in steps)}/{len(steps)} ok, {report['elapsed_s']:.0f} s in all")
    if failures:
        print(f"FAILED ({len(failures)}):")
        for f in failures[:15]:
            print(f"  - {f}")
        if len(failures) > 15:
            print(f"  ... and {len(failures) - 15} more in gpu.json")
    else:
        print("OK: every check passed")
    print("=" * 78)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "env":
        sys.exit(env(sys.argv[2]))
    if len(sys.argv) == 4 and sys.argv[1] == "summary":
        sys.exit(summary(sys.argv[2], sys.argv[3]))
    sys.exit(__doc__)
