#!/usr/bin/env bash
# Gradescope runs this once, as root on its Ubuntu image, when the autograder zip is uploaded;
# the zip lies unpacked in /autograder/source. Made by `course gradescope-zip`.
set -euxo pipefail
export DEBIAN_FRONTEND=noninteractive

apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-pip
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    # Ubuntu 22.04's python3 is 3.10; the kit needs 3.11 or newer
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
    PYTHON=python3.11
fi

# a venv: newer Ubuntus refuse `pip install` into the system's Python (PEP 668)
"$PYTHON" -m venv /autograder/venv
/autograder/venv/bin/pip install --upgrade pip
# the CPU build: PyPI's default torch pulls gigabytes of CUDA libraries the grader does not use
/autograder/venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install /autograder/source
# run_autograder calls `course`
ln -sf /autograder/venv/bin/course /usr/local/bin/course
