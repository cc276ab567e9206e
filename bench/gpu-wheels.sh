#!/usr/bin/env bash
# Run HERE (where pip reaches a package registry), before a GPU run: downloads into bench/wheels/
# (ignored by git; carried to the GPU machine) the wheels of bench/gpu-requirements.txt, which
# `course grade` imports but the GPU machine lacks. bench/gpu.sh installs them there, offline.
#
#   bash bench/gpu-wheels.sh                             # for the GPU machine's Python 3.12.3, x86-64
#   PY_VERSIONS="3.12.3 3.11.7" bash bench/gpu-wheels.sh  # also for this machine's 3.11 (to try gpu.sh here)
#
# Most are pure Python; rpds-py, pyzmq, tornado, SQLAlchemy and RapidFuzz are compiled, hence the
# platform tags. About 28 MiB for 3.12 (nbgrader's wheel is 11 MiB of it); the device tool carries
# at most 64 MiB with the working tree.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=bench/wheels
mkdir -p "$dest"
py=${PYTHON:-python3}
platforms=()
for p in manylinux_2_28 manylinux_2_27 manylinux_2_26 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1; do
    platforms+=(--platform "${p}_x86_64")
done
for v in ${PY_VERSIONS:-3.12.3}; do
    echo "wheels for Python $v -> $dest/"
    "$py" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
        --python-version "$v" --implementation cp "${platforms[@]}" \
        -d "$dest" -r bench/gpu-requirements.txt
done
echo "$(ls "$dest"/*.whl | wc -l) wheels, $(du -sh "$dest" | cut -f1) in $dest"
