"""What the far side calls once student code has run, bound here, before any of it.

A student's cell may replace any function of the standard library or of torch
(`os.fork = ...`, `json.loads = ...`, `torch._C._len_torch_dispatch_stack =
...`), and a student can read the kit. So the code that runs after the first
student line (the cells' loop, each exercise's steps, the probes, the job
reader, the sender, the encoder, the tripwire's hooks, the seal's check, the
sweep, the exercise's own Landlock and seccomp layers) looks nothing up in a
module at call time. It uses only:

- its arguments and closures, and the frozen record of its submission
  (`exercises.Exercises`, built in `cells.child` before the first student
  line: every callable of the kit it calls, every defence's configuration);
- `K`, this module's record: the standard library's and torch's functions,
  bound when the pool server imported the kit;
- constants (numbers, strings, tuples of them) and builtins, which each of
  those modules copies for itself at import (`private.own_builtins`), so
  that a student's `builtins.len = ...` reaches none of them;
- the kit's own functions and classes, which follow the same rule.

`tests/test_bound.py` reads the syntax tree of that code and fails on any
other global it loads. A tuple cannot change in place; the objects the kit
defines (its classes and functions, this record) can be replaced only through
references found with `gc`, which the seal (`seal.Seal`) sees: every probe
after that is `forbidden`.
"""

from __future__ import annotations

import _signal
import binascii
import ctypes
import os
import signal
import struct
import sys
import time
from types import CodeType, FrameType, FunctionType, MethodType, ModuleType
from typing import NamedTuple

import numpy as np
import torch


class CellTimeout(BaseException):
    """A cell ran past the cell time limit (BaseException: `except Exception` cannot swallow it)."""


class Bound(NamedTuple):
    # processes and files
    fork: object
    waitpid: object
    exit: object
    close: object
    getpid: object
    read: object
    write: object
    open: object
    listdir: object
    kill: object
    wifexited: object
    wexitstatus: object
    wifsignaled: object
    wtermsig: object
    sleep: object
    signal_names: tuple  # (number, name) pairs: enum.Signals is Python code a cell could patch
    # the cell timer
    set_handler: object
    setitimer: object
    sigalrm: int
    itimer_real: int
    CellTimeout: type
    # the wire
    pack_length: object
    unpack_length: object
    b2a_base64: object
    # what the tripwire and the seal look at
    getframe: object
    getprofile: object
    setprofile: object
    modules_get: object
    dispatch_depth: object
    dispatch_at: object
    # types, to tell things apart (immutable: a cell cannot change them)
    CodeType: type
    FrameType: type
    FunctionType: type
    MethodType: type
    ModuleType: type
    # torch, for the encoder and a device's health
    Tensor: type
    detach: object
    as_subclass: object
    to: object
    contiguous: object
    numpy: object
    float32: object
    bfloat16: object
    np_scalars: tuple
    cuda_initialized: object  # None in a build without CUDA
    cuda_synchronize: object
    # ctypes, for the layers an exercise's process adds itself
    syscall: object
    prctl: object
    byref: object
    get_errno: object


_libc = ctypes.CDLL(None, use_errno=True)

K = Bound(
    fork=os.fork,
    waitpid=os.waitpid,
    exit=os._exit,
    close=os.close,
    getpid=os.getpid,
    read=os.read,
    write=os.write,
    open=os.open,
    listdir=os.listdir,
    kill=os.kill,
    wifexited=os.WIFEXITED,
    wexitstatus=os.WEXITSTATUS,
    wifsignaled=os.WIFSIGNALED,
    wtermsig=os.WTERMSIG,
    sleep=time.sleep,
    signal_names=tuple((s.value, s.name) for s in signal.Signals),
    set_handler=_signal.signal,  # signal.signal is Python code, which a cell could patch
    setitimer=signal.setitimer,
    sigalrm=int(signal.SIGALRM),
    itimer_real=int(signal.ITIMER_REAL),
    CellTimeout=CellTimeout,
    pack_length=struct.Struct("<Q").pack,
    unpack_length=struct.Struct("<Q").unpack,
    b2a_base64=binascii.b2a_base64,
    getframe=sys._getframe,
    getprofile=sys.getprofile,
    setprofile=sys.setprofile,
    modules_get=sys.modules.get,  # the dict itself: rebinding `sys.modules` does not change it
    dispatch_depth=torch._C._len_torch_dispatch_stack,
    dispatch_at=torch._C._get_dispatch_stack_at,
    CodeType=CodeType,
    FrameType=FrameType,
    FunctionType=FunctionType,
    MethodType=MethodType,
    ModuleType=ModuleType,
    Tensor=torch.Tensor,
    detach=torch.Tensor.detach,
    as_subclass=torch.Tensor.as_subclass,
    to=torch.Tensor.to,
    contiguous=torch.Tensor.contiguous,
    numpy=torch.Tensor.numpy,
    float32=torch.float32,
    bfloat16=torch.bfloat16,
    np_scalars=(np.integer, np.floating, np.bool_),
    cuda_initialized=getattr(torch._C, "_cuda_isInitialized", None),
    cuda_synchronize=getattr(torch._C, "_cuda_synchronize", None),
    syscall=_libc.syscall,
    prctl=_libc.prctl,
    byref=ctypes.byref,
    get_errno=ctypes.get_errno,
)
