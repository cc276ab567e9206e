#!/usr/bin/env bash
# The GPU check (issue 14), in one go, offline, in under 8 minutes, on a machine with an NVIDIA GPU:
#
#   bash bench/gpu-wheels.sh          # once, HERE (network): the wheels the GPU machine lacks -> bench/wheels/
#   bash bench/gpu.sh [OUT]           # THERE, with bench/wheels carried (device tool: carry ["bench/wheels"])
#
# OUT (default bench/) gets gpu.json (the results) and gpu.log (every command and its output), whatever
# happens. Steps, each under a hard timeout:
#   1. the machine: nvidia-smi, and Python, torch, torch.version.cuda and the GPU as torch sees them;
#   2. the kit's imports: a venv in a temporary folder that sees the machine's own packages (its CUDA torch;
#      torch is never installed), the wheels of bench/gpu-requirements.txt installed into it from
#      bench/wheels (--no-index --no-deps), and the kit put on its path by a .pth file: the pool server runs
#      `python -I -m autograder.sandbox.server`, and -I ignores PYTHONPATH but not .pth files;
#   3. python -m pytest tests/test_cuda.py: its CUDA tests must run, not skip;
#   4. every sample (samples/<assignment>/{perfect,buggy,stubs,lesson}.ipynb) graded with --device all:
#      perfect full marks and stubs 0, on each device;
#   5. the time of one perfect notebook graded with --device cpu and with --device all, per assignment.
# Then a one-screen summary (bench/gpu_check.py); exit 1 if anything failed (no GPU included).
#
# Environment: PYTHON (default python3: the machine's Python with torch), GPU_BUDGET_S (default 450: steps
# stop starting after it), GPU_COMMIT (the kit's commit, for the record), GPU_REPEATS (default 2: timing
# runs per assignment and device), GPU_KEEP=1 keeps the work folder (the venv and every grade report).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$ROOT/bench}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)
LOG=$OUT/gpu.log
JSON=$OUT/gpu.json
PY=${PYTHON:-python3}
BUDGET=${GPU_BUDGET_S:-450}
REPEATS=${GPU_REPEATS:-2}
ASSIGNMENTS=(02_init 03_minibatch_training 04_callbacks 05_anneal)
START=$(date +%s)
DEADLINE=$((START + BUDGET))
WORK=$(mktemp -d "${TMPDIR:-/tmp}/course-gpu.XXXXXX") || exit 2
chmod 755 "$WORK" # the venv in it, readable by the sandbox's own uids as an installed Python is
VPY=$WORK/venv/bin/python
FALLBACK_PTH=""
: >"$LOG"
: >"$WORK/steps.tsv"
cd "$ROOT" || exit 2
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 MPLBACKEND=Agg

say() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$LOG"; }

finish() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$FALLBACK_PTH" ] && rm -f "$FALLBACK_PTH"
    say "summary -> $JSON"
    "$PY" "$ROOT/bench/gpu_check.py" summary "$WORK" "$JSON" 2>&1 | tee -a "$LOG"
    local src=${PIPESTATUS[0]}
    if [ ! -s "$JSON" ]; then # the summary itself failed: still leave a JSON behind
        printf '{"ok": false, "failures": ["the summary could not be written (rc %s): see gpu.log"]}\n' "$src" >"$JSON"
        src=1
    fi
    if [ "${GPU_KEEP:-0}" = 1 ]; then echo "work folder kept: $WORK" | tee -a "$LOG"; else rm -rf "$WORK"; fi
    echo "log: $LOG"
    [ "$src" = 0 ] && [ "$rc" = 0 ] && exit 0
    exit 1
}
trap finish EXIT
CHILD=""
stop() { # a signal: end the step under way (timeout passes it on), then finish
    say "$1"
    printf 'signal\t%s\t%s\t0\t%s\n' "$1" "$2" "the run was $1" >>"$WORK/steps.tsv"
    [ -n "$CHILD" ] && kill -TERM "$CHILD" 2>/dev/null && wait "$CHILD"
    exit "$2"
}
trap 'stop interrupted 130' INT
trap 'stop terminated 143' TERM

# step NAME LIMIT_S CMD...: runs CMD under a hard timeout (cut to what is left of the budget), output
# to the log; one line in steps.tsv: name, status (ok, failed, timeout, skipped), rc, seconds, command.
step() {
    local name=$1 limit=$2
    shift 2
    local left=$((DEADLINE - $(date +%s)))
    if ((left < 15)); then
        say "$name: skipped, out of time (GPU_BUDGET_S=$BUDGET)"
        printf '%s\tskipped\t0\t0\t%s\n' "$name" "${1:-}" >>"$WORK/steps.tsv"
        return 1
    fi
    ((limit > left)) && limit=$left
    local cmd="$*" t0 t1 rc status
    cmd=${cmd//$'\n'/ }
    cmd=${cmd//$'\t'/ }
    cmd=${cmd:0:400}
    echo "=== $name (timeout ${limit}s): $cmd" >>"$LOG"
    t0=$(date +%s.%N)
    # in the background, so that a signal to this script is handled at once (wait returns), not after the step
    timeout -k 5 "$limit" "$@" >>"$LOG" 2>&1 &
    CHILD=$!
    wait "$CHILD"
    rc=$?
    CHILD=""
    t1=$(date +%s.%N)
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    case $rc in
    0) status=ok ;;
    124 | 137) status=timeout ;;
    *) status=failed ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$secs" "$cmd" >>"$WORK/steps.tsv"
    say "$name: $status (${secs} s)"
    [ $rc = 0 ]
}

say "GPU check of $ROOT -> $OUT (budget ${BUDGET}s; work folder $WORK)"
# the device tool sends the working tree without .git: GPU_COMMIT names the commit then
echo "${GPU_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}" >"$WORK/commit.txt"

# 1. the machine
if command -v nvidia-smi >/dev/null; then
    step nvidia-smi 30 sh -c "nvidia-smi | tee '$WORK/nvidia-smi.txt'"
else
    echo "nvidia-smi: not found (no NVIDIA driver here)" | tee "$WORK/nvidia-smi.txt" >>"$LOG"
    say "nvidia-smi: not found: this machine has no NVIDIA driver; the CUDA steps will fail"
fi
step torch-env 120 "$PY" "$ROOT/bench/gpu_check.py" env "$WORK/env.json"

# 2. the kit's imports, offline (a function run by bash -c, under the step's timeout)
setup() {
    set -e
    [ -d "$ROOT/bench/wheels" ] || {
        echo "no bench/wheels: run bash bench/gpu-wheels.sh where pip reaches a registry, and carry bench/wheels"
        return 1
    }
    local site pth
    if "$PY" -m venv --without-pip "$WORK/venv"; then
        site=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        pth=$site/course-kit-gpu-check.pth
        # A venv made from a venv (the machine's python3 is /opt/torch/.venv/bin/python3) sees the base
        # interpreter's packages, not those of the venv it was made from: add the latter's, .pth files included.
        "$PY" -c 'import site; print("\n".join(f"import site; site.addsitedir({p!r})" for p in site.getsitepackages()))' \
            >"$WORK/base.pth"
    else # no venv module: install beside, and put the kit on the machine's own python (the .pth goes at exit);
        # then the sandbox (Landlock) cannot read $WORK/site: anything imported there after the fork fails
        echo "venv failed: using $PY itself"
        site=$WORK/site
        pth=$FALLBACK_PTH
        echo "$site" >"$WORK/base.pth"
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-cache-dir --no-compile --find-links "$ROOT/bench/wheels" \
        --target "$site" -r "$ROOT/bench/gpu-requirements.txt"
    { echo "$ROOT"; cat "$WORK/base.pth"; } >"$pth"
    echo "wrote $pth:" && cat "$pth"
    local vpy=$WORK/venv/bin/python
    [ -e "$WORK/venv/pyvenv.cfg" ] || vpy=$PY
    # the grader's imports, and the pool server's as it starts it (-I, from /)
    "$vpy" -c 'import autograder.cli, nbformat, torch; from nbgrader.utils import compute_checksum; print(torch.__file__)'
    (cd / && "$vpy" -I -c 'import autograder.sandbox.server, autograder.sandbox.cells, autograder.checks; print("-I: ok")')
}
FALLBACK_PTH=$("$PY" -c 'import site; print(site.getsitepackages()[0])')/zz-course-kit-gpu-check.pth
export ROOT PY WORK FALLBACK_PTH
if ! step setup 180 bash -c "$(declare -f setup); setup"; then
    say "setup failed: the kit cannot be imported; the rest is skipped (see $LOG)"
    exit 1
fi
if [ -e "$WORK/venv/pyvenv.cfg" ]; then
    VPY=$WORK/venv/bin/python
    FALLBACK_PTH=""
else
    VPY=$PY
fi
COURSE=("$VPY" -m autograder.cli)

# 3. the CUDA tests (-o addopts=: the project's addopts name nbval, which the machine lacks)
step cuda-tests 270 "$VPY" -m pytest -q -rs -o addopts= -p no:cacheprovider tests/test_cuda.py \
    --junitxml "$WORK/cuda-tests.xml"

# 4. every sample, on every device
for a in "${ASSIGNMENTS[@]}"; do
    step "samples-$a" 90 "${COURSE[@]}" grade "$a" samples/"$a"/{perfect,buggy,stubs,lesson}.ipynb \
        --device all --no-store --seed 1 --detail --json "$WORK/samples-$a.json"
done

# 5. CPU against CPU + CUDA: one perfect notebook, start-up included
for i in $(seq "$REPEATS"); do
    for a in "${ASSIGNMENTS[@]}"; do
        for d in cpu all; do
            step "time-$a-$d-$i" 60 "${COURSE[@]}" grade "$a" "samples/$a/perfect.ipynb" \
                --device "$d" --no-store --seed 1 --json "$WORK/time-$a-$d-$i.json"
        done
    done
done
exit 0
