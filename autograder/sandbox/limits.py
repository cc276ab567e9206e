"""What a submission may use, and the torch settings every probe starts from.

The sandbox's rlimits (`limit_resources`) are the one home of the memory
policy: an address-space cap on the CPU, a data cap on CUDA (its driver
reserves far more address space than it uses). The grader's own timers stop
a submission first; these hold when its process ignores signals.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path


def torch_resetter() -> Callable[[], None]:
    """`reset()`: undo global torch settings a notebook may change (default dtype, grad mode,
    default device, TF32 and cuDNN's autotuning), so that a probe builds the same inputs here as
    in the grader and computes at the same precision: a notebook that turns TF32 on must not make
    an honest float32 CUDA result differ from the reference's. Bound now: it runs before every
    probe, after student code (`bound`)."""
    import torch

    threads, dtype, grad, device = (
        torch.set_num_threads,
        torch.set_default_dtype,
        torch.set_grad_enabled,
        torch.set_default_device,
    )
    precision, matmul, cudnn, float32 = (
        torch.set_float32_matmul_precision,
        torch.backends.cuda.matmul,
        torch.backends.cudnn,
        torch.float32,
    )

    def reset() -> None:
        # one thread: probes are small, and a submission that used up its process limit would
        # otherwise make OpenMP exit the process when it starts its threads
        threads(1)
        dtype(float32)
        grad(True)
        device(None)
        # torch's own defaults (cuDNN's TF32 is on by default; matmul's is not)
        matmul.allow_tf32 = False
        cudnn.allow_tf32 = True
        precision("highest")
        cudnn.benchmark = False
        cudnn.deterministic = False

    return reset


def reset_torch() -> None:
    """`torch_resetter`'s reset, once (the grader's side and the self-check)."""
    torch_resetter()()


def _tasks_of(uid: int) -> int:
    """Processes and threads of `uid` now: RLIMIT_NPROC counts them all, not just ours."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue  # the process ended while we read
    return count


def limit_resources(limits: dict, cuda: bool) -> None:
    """rlimits, so that a submission cannot fill the disk, fork-bomb or eat the machine's memory
    (the grader's timers still stop it first; these hold when its process ignores signals)."""
    mib = 1 << 20
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_mib"] * mib,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    # on top of what the user runs already, and of torch's thread pool (one thread per core)
    nproc = _tasks_of(os.getuid()) + limits["processes"] + (os.cpu_count() or 1)
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    cpu = int(limits["exercise_timeout"]) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    if cuda:
        # The CUDA driver reserves far more address space than it uses (PROT_NONE mappings), so
        # RLIMIT_AS would stop it from starting. RLIMIT_DATA counts only private writable memory
        # (Linux >= 4.7): it bounds what the process allocates on the host, not the reservation.
        # GPU memory itself is not bounded (README, Known limits).
        resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_mib"] * mib,) * 2)
    else:
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_mib"] * mib,) * 2)
