"""Several processes or machines, on JAX's own distributed runtime.

Start the same program once per process with the same coordinator address::

    hiddenstate autoencoder fit data.npy --coordinator 10.0.0.1:12355 \\
        --num-processes 2 --process-id 0 --out model.safetensors   # on machine 0
    ... --process-id 1 ...                                         # on machine 1

or in Python, before any other JAX call::

    from hiddenstate import distributed
    distributed.initialize("10.0.0.1:12355", num_processes=2, process_id=0)

Every process then sees the devices of all processes (``jax.devices()``); the
training loop builds its data-parallel mesh over all of them and XLA
all-reduces the gradients across processes (Gloo on CPUs, NCCL on GPUs).
Each process reads only its own contiguous block of rows
(:func:`process_rows`); :func:`allgather_rows` then gives every process the
whole data, in file order, so the minibatches are the ones a single process
would draw and the result matches a one-process run.
"""

from __future__ import annotations

import numpy as np

__all__ = ["initialize", "is_initialized", "agree", "abandon", "process_rows", "allgather_rows",
           "host", "put"]

_initialized = False
_timeout = None  # initialize's, also the wait of agree
_agreements = 0  # agree's calls in this run: each has its own keys in the store


#: Seconds :func:`initialize` waits for every process to join, by default.
DEFAULT_TIMEOUT = 300.0
#: The most processes and the longest start-up wait :func:`initialize` takes, kept in
#: _limits: the command line's parser reads them there without NumPy.
from ._limits import MAX_PROCESSES, MAX_TIMEOUT  # noqa: E402


def _check_address(coordinator: str) -> tuple[str, int]:
    host, sep, port = str(coordinator).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"coordinator must be HOST:PORT (a port in 1..65535), got "
                         f"{coordinator!r}")
    return host.strip("[]"), int(port)


def _timeout_message(coordinator: str, num_processes: int, process_id: int,
                     timeout: float) -> str:
    if process_id == 0:
        waited = (f"process 0 hosts the coordinator at {coordinator} and waited {timeout:g} s "
                  f"for the other {num_processes - 1} process(es)")
    else:
        waited = (f"process {process_id} waited {timeout:g} s for the coordinator at "
                  f"{coordinator} (process 0) and every other process")
    return (f"the distributed start-up did not finish: {waited}; start the same command "
            f"once for each --process-id 0..{num_processes - 1}, with the same coordinator "
            "address, reachable from every machine")


def initialize(coordinator: str, num_processes: int, process_id: int, *,
               timeout: float = DEFAULT_TIMEOUT) -> None:
    """Join a multi-process run (``jax.distributed.initialize``); CPU collectives via Gloo.

    Process 0's coordinator listens on the address ``coordinator`` names, not on
    every interface (JAX's default, ``[::]:PORT``): ``127.0.0.1:PORT`` is reachable
    from this machine only, ``10.0.0.1:PORT`` on that interface only. (The Gloo
    collectives that follow open their own connections between the processes that
    have joined.) Nothing authenticates a process that joins: bind to an address
    only the machines of the run can reach, and let :func:`agree` check them.

    When not every process has joined within ``timeout`` seconds, the process
    prints one line to stderr (``hiddenstate: error: the distributed start-up did
    not finish ...``, naming the coordinator and the process) and exits with
    status 2. (JAX itself would abort the whole process with a C++ stack trace
    after its own timeout: the wait cannot be interrupted and turned into a
    Python exception, so this exits instead.)
    """
    global _initialized, _timeout
    import os
    import sys
    import threading

    import jax

    num_processes, process_id = int(num_processes), int(process_id)
    if not 1 <= num_processes <= MAX_PROCESSES:
        raise ValueError(f"num_processes must be in [1, {MAX_PROCESSES}], got {num_processes}")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, {num_processes}), got {process_id}")
    _check_address(coordinator)
    if not 0 < float(timeout) <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be positive and at most {MAX_TIMEOUT:g} s, got "
                         f"{timeout}")
    try:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    except (AttributeError, ValueError):  # older JAX: CPU collectives not configurable
        pass
    done = threading.Event()

    def give_up() -> None:
        if done.wait(float(timeout)):
            return
        message = _timeout_message(coordinator, num_processes, process_id, float(timeout))
        try:
            sys.stderr.write(f"hiddenstate: error: {message}\n")
            sys.stderr.flush()
        finally:
            os._exit(2)

    watchdog = threading.Thread(target=give_up, name="hiddenstate-distributed-timeout",
                                daemon=True)
    watchdog.start()
    try:
        with _service_of_its_own(process_id == 0):
            jax.distributed.initialize(
                coordinator, num_processes=num_processes, process_id=process_id,
                # JAX's own deadline, later than ours: ours speaks first.
                initialization_timeout=int(float(timeout)) + 60,
                coordinator_bind_address=str(coordinator),  # not JAX's default, every interface
            )
        _initialized, _timeout = True, float(timeout)
        _start_heartbeat()
        # The backends exchange their devices here, once every process has joined: a
        # process that stops before it would leave the others in JAX's own wait.
        with _watching("the processes exchanged their devices"):
            jax.devices()
    finally:
        done.set()


#: JAX's coordination service, run in a process of its own (:class:`_Service`).
_SERVE = """
import json, os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is process 0's to handle
from jax._src.lib import _jax
args, kwargs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
grace = float(sys.argv[3])
try:
    service = _jax.get_distributed_runtime_service(*args, **kwargs)
except Exception as exc:
    print("error: " + " ".join(str(exc).split()), flush=True)
    sys.exit(1)
print("ready", flush=True)
if sys.stdin.readline().strip() == "stop":
    service.shutdown()
else:  # process 0 stopped without a word: the others learn it from its silence meanwhile
    time.sleep(grace)
os._exit(0)
"""


class _Service:
    """JAX's coordination service in a child process of process 0, instead of inside it.

    Every process's JAX client polls the service for errors, and aborts its process
    with a C++ stack (``LOG(FATAL)``, no Python code can intervene) the moment the
    service is gone. Hosted inside process 0, the service died with it: a killed
    process 0 made every other process abort. Here it outlives process 0 by
    ``SILENCE`` seconds and a little, so the others notice its silence and end in one
    line naming it. A normal end shuts it down when JAX shuts down process 0's client
    (``shutdown`` below, called by JAX in place of its own service's).
    """

    def __init__(self, proc) -> None:
        self.proc = proc

    @classmethod
    def start(cls, *args, **kwargs) -> _Service:
        """Start it with the arguments JAX gives its own (the bind address first)."""
        import json
        import re
        import subprocess
        import sys
        import tempfile

        coordinator = args[0] if args else kwargs.get("address", "?")
        with tempfile.TemporaryFile("w+") as log:  # its own messages, read on failure only
            proc = subprocess.Popen(
                [sys.executable, "-c", _SERVE, json.dumps(args), json.dumps(kwargs),
                 str(SILENCE + 5.0)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                text=True, start_new_session=True)  # no terminal signals: it must outlive us
            answer = proc.stdout.readline().strip()
            if answer == "ready":
                return cls(proc)
            proc.kill()
            proc.wait()
            log.seek(0)
            # A taken address can also crash the service (SIGSEGV in JAX 0.10.2) after
            # logging why: that line, without its log prefix.
            said = [re.sub(r"^[EWF]\d{4} [\d:.]+\s+\d+ \S+\] ", "", line).strip()
                    for line in log.read().splitlines() if line.strip()]
        reason = answer.removeprefix("error: ") or (
            said[-1] if said else f"its process ended (status {proc.returncode})")
        raise OSError(f"process 0 could not host the coordinator at {coordinator}: {reason}")

    def shutdown(self) -> None:
        import subprocess

        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def _jax_service_factory():
    """The module through which JAX creates its coordination service, if it has one."""
    try:
        from jax._src import distributed as jax_distributed
    except ImportError:
        return None
    lib = getattr(jax_distributed, "_jax", None)
    return lib if hasattr(lib, "get_distributed_runtime_service") else None


def _service_of_its_own(hosting: bool):
    """A context in which ``jax.distributed.initialize`` starts its coordination service
    (process 0's) as a :class:`_Service`, with the arguments it would give its own; as
    before when this JAX creates it some other way."""
    import contextlib

    lib = _jax_service_factory()
    if not hosting or lib is None:
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def hosted():
        own = lib.get_distributed_runtime_service
        lib.get_distributed_runtime_service = _Service.start
        try:
            yield
        finally:
            lib.get_distributed_runtime_service = own

    return hosted()


#: Seconds between two signs of life of a process, and the silence after which the
#: others take it for dead while they wait for it (a process between two signs may
#: be busy, e.g. hashing its data file: the thread needs the interpreter only briefly).
HEARTBEAT = 0.5
SILENCE = 10.0
_KEYS = "hiddenstate/"


def _client():
    from jax._src.distributed import global_state

    return global_state.client


def _start_heartbeat() -> None:
    """Publish this process's sign of life (a counter) every HEARTBEAT seconds, until
    the interpreter exits (stopped before JAX's own shutdown, which atexit runs later)."""
    import atexit
    import threading

    import jax

    stop, key = threading.Event(), f"{_KEYS}alive/{jax.process_index()}"

    def beat() -> None:
        count = 0
        while not stop.is_set():
            try:
                _client().key_value_set(key, str(count), allow_overwrite=True)
            except Exception:  # noqa: BLE001 - the runtime went away: nothing to tell
                return
            count += 1
            stop.wait(HEARTBEAT)

    threading.Thread(target=beat, name="hiddenstate-heartbeat", daemon=True).start()
    atexit.register(stop.set)  # after JAX's atexit shutdown was registered: runs before it


def _try_get(key: str) -> str | None:
    try:
        return _client().key_value_try_get(key)
    except Exception:  # noqa: BLE001 - JAX raises for a key not (yet) set
        return None


class _Silence:
    """Which other process stopped: one that published its error (:func:`abandon`),
    or one whose heartbeat has not moved for ``silence`` seconds (killed, crashed)."""

    def __init__(self, silence: float = SILENCE) -> None:
        import jax

        self.me, self.count, self.silence = jax.process_index(), jax.process_count(), silence
        self.seen: dict[int, tuple[str | None, float]] = {}

    def quiet(self, other: int) -> bool:
        """Whether ``other``'s heartbeat has not moved for ``silence`` seconds (counted
        from the first look)."""
        import time

        now, beat = time.monotonic(), _try_get(f"{_KEYS}alive/{other}")
        last, since = self.seen.setdefault(other, (beat, now))
        if beat != last:
            self.seen[other] = (beat, now)
            return False
        return now - since > self.silence

    def check(self) -> str | None:
        for other in range(self.count):
            if other == self.me:
                continue
            failed = _try_get(f"{_KEYS}failed/{other}")
            if failed is not None:
                return f"process {other} stopped with an error: {failed}"
            if self.quiet(other):
                return (f"process {other} stopped answering (no sign of life for "
                        f"{self.silence:g} s): it was killed or crashed; see its own output")
        return None


def _watching(what: str):
    """A context in which a blocking JAX call waits for the other processes: when one
    of them stops, print one line naming it and exit with status 2 (the wait itself
    cannot be interrupted)."""
    import contextlib
    import os
    import sys
    import threading

    @contextlib.contextmanager
    def watch():
        done, silence = threading.Event(), _Silence()

        def look() -> None:
            while not done.wait(HEARTBEAT):
                stopped = silence.check()
                if stopped and not done.is_set():
                    sys.stderr.write(f"hiddenstate: error: {stopped}, before {what}\n")
                    sys.stderr.flush()
                    os._exit(2)

        threading.Thread(target=look, name="hiddenstate-watch", daemon=True).start()
        try:
            yield
        finally:
            done.set()

    return watch()


def abandon(message: str, status: int = 2) -> None:
    """Leave a multi-process run after an error: publish ``message`` for the other
    processes (their waits end with it, naming this process), then exit with
    ``status`` at once. A normal exit would wait in JAX's shutdown for processes that
    will never get there."""
    import os
    import sys

    import jax

    try:
        _client().key_value_set(f"{_KEYS}failed/{jax.process_index()}",
                                " ".join(str(message).split())[:500], allow_overwrite=True)
        if jax.process_index() == 0:
            _outlive_the_others()
    except Exception:  # noqa: BLE001 - the runtime is already gone: exit all the same
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _outlive_the_others() -> None:
    """Were process 0 to exit first while it hosts the coordination service (a JAX whose
    service cannot run as a :class:`_Service`), the others would abort inside JAX with a
    C++ stack instead of their own one-line error. Wait (at most SILENCE seconds) until
    each has published its error or gone quiet: usually a fraction of a second."""
    import time

    import jax

    start, gone = time.monotonic(), _Silence(4 * HEARTBEAT)
    pending = set(range(1, jax.process_count()))
    while pending and time.monotonic() - start < SILENCE:
        pending = {other for other in pending if not gone.quiet(other)
                   and _try_get(f"{_KEYS}failed/{other}") is None}
        time.sleep(0.05)
    time.sleep(0.2)  # a process that just published its error: let it exit first


def agree(**parts: str) -> None:
    """Check that every process of the run passed the same ``parts`` (e.g. the version,
    the settings, a digest of the data); ValueError naming the first process and part
    that differ.

    Each process publishes a digest of each part in JAX's distributed key-value store,
    then reads every other process's: every process of a mismatched run refuses, in
    one line, before any collective could abort it. One process: nothing to check.
    """
    global _agreements
    import hashlib
    import json

    import jax

    if jax.process_count() == 1:
        return
    _agreements += 1
    me, key = jax.process_index(), f"{_KEYS}agree/{_agreements}/"
    mine = {k: hashlib.sha256(str(v).encode()).hexdigest() for k, v in parts.items()}
    _client().key_value_set(key + str(me), json.dumps(mine, sort_keys=True))
    silence = _Silence()
    for other in range(jax.process_count()):
        if other == me:
            continue
        theirs = json.loads(_await(key + str(other), other, silence))
        differ = [k for k in mine if theirs.get(k) != mine[k]]
        if differ or set(theirs) != set(mine):
            what = ", ".join(differ) or "what it checks"
            raise ValueError(f"process {other} runs with other {what} than process {me}: start "
                             f"every process with the same version, data and options (all "
                             f"but --process-id and --out)")


def _await(key: str, other: int, silence: _Silence) -> str:
    """The value process ``other`` sets at ``key``; ValueError as soon as a process
    stopped (its error, or its silence) or the run's timeout passed."""
    import time

    deadline = time.monotonic() + (_timeout or DEFAULT_TIMEOUT)
    while (value := _try_get(key)) is None:
        stopped = silence.check()
        if stopped:
            raise ValueError(f"{stopped}, before the processes compared their version, "
                             "settings and data")
        if time.monotonic() > deadline:
            raise ValueError(f"process {other} did not reach the check of version, settings "
                             f"and data within {_timeout or DEFAULT_TIMEOUT:g} s "
                             "(--distributed-timeout)")
        time.sleep(0.05)
    return value


def collective_failed(exc: BaseException) -> str | None:
    """The one-line reason a collective of a multi-process run failed, or None when
    ``exc`` is not such a failure.

    A process killed during training closes its connections: the others' next
    collective (Gloo's all-reduce) fails at once with a runtime error. This waits (at
    most SILENCE seconds and a little) for the process that stopped to be known - it
    published its error, or its heartbeat stopped - and names it; when none is found
    (e.g. the network between the processes failed), the collective's own message."""
    import time

    if not _initialized or type(exc).__name__ not in ("XlaRuntimeError", "JaxRuntimeError"):
        return None
    text = " ".join(str(exc).split())
    if not any(w in text for w in ("Gloo", "gloo", "Connection", "connection", "peer")):
        return None
    try:
        silence, deadline = _Silence(), time.monotonic() + SILENCE + 4 * HEARTBEAT
        while time.monotonic() < deadline:
            stopped = silence.check()
            if stopped:
                return f"during the run, {stopped}"
            time.sleep(HEARTBEAT / 5)
    except Exception:  # noqa: BLE001 - the coordination service is gone too
        pass
    return f"a collective operation with the other processes failed: {text[:300]}"


def is_initialized() -> bool:
    return _initialized


def process_rows(n: int, process_id: int | None = None, num_processes: int | None = None):
    """The contiguous ``slice`` of ``n`` rows this process reads."""
    import jax

    p = jax.process_index() if process_id is None else process_id
    k = jax.process_count() if num_processes is None else num_processes
    bounds = np.linspace(0, n, k + 1).round().astype(int)
    return slice(int(bounds[p]), int(bounds[p + 1]))


def allgather_rows(local: np.ndarray) -> np.ndarray:
    """Concatenate every process's rows, in process order, on every process."""
    import jax
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return np.asarray(local)
    local = np.asarray(local)
    sizes = np.asarray(multihost_utils.process_allgather(np.array([local.shape[0]])))
    sizes = sizes.reshape(-1)
    width = int(sizes.max())
    padded = np.zeros((width, *local.shape[1:]), local.dtype)
    padded[: local.shape[0]] = local
    gathered = np.asarray(multihost_utils.process_allgather(padded))
    gathered = gathered.reshape(len(sizes), width, *local.shape[1:])
    return np.concatenate([gathered[i, : sizes[i]] for i in range(len(sizes))])


def device(tree):
    """Host data (NumPy arrays, scalars) of ``tree`` as JAX arrays on the default device,
    copied: ``jnp.asarray`` without its cost. (``jnp.asarray`` of a NumPy array runs a
    small compiled program per shape and dtype: dozens of compilations in a run that
    stages data of many shapes.) JAX arrays are returned as they are."""
    import jax

    def one(x):
        if isinstance(x, jax.Array):
            return x
        if isinstance(x, (np.ndarray, np.generic, bool, int, float)):
            return jax.device_put(x, may_alias=False)
        import jax.numpy as jnp

        return jnp.asarray(x)

    return jax.tree.map(one, tree)


def host(x) -> np.ndarray:
    """A numpy copy of ``x``, also when it is a replicated array spanning several processes."""
    import jax

    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(x.addressable_data(0))
    return np.asarray(x)


def put(tree, sharding):
    """``jax.device_put`` that also works when ``sharding`` spans several processes.

    Every process must pass the same values (they are host data replicated by
    construction: same seed, same data).
    """
    import jax

    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(x):
        x = host(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(one, tree)
