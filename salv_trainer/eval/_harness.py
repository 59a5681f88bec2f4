"""The three harness rules: how each benchmark's own testbench decides pass or fail.

Each rule writes the files its benchmark's harness writes, runs the same Icarus commands (through
:func:`verislice.untrusted.run_limited`: own temp dir, limits, process group killed on timeout)
and reads the log with the same rule:

* ``verilogeval-v2`` (``scripts/sv-iv-analyze``): ``candidate.sv test.sv ref.sv`` compiled
  together; pass iff a log line is exactly ``Mismatches: 0 in N samples`` and no line holds
  ``syntax error``, ``error``, ``TIMEOUT``, ``Unknown module type``, ``Unable to bind wire/reg``,
  ``is declared here as wire`` or a no-sensitivity warning.
* ``verilogeval-v1`` (``verilog_eval/execution.py``): one file ``testbench + "\\n" + header +
  "\\n" + completion``; pass iff stderr is empty (any warning fails) and stdout holds
  ``Mismatches: 0 in N samples``.
* ``rtllm`` (``auto_run.py``, VCS replaced by Icarus with ``+timescale+1ns/1ns``): design and
  testbench with the task's data files in the working directory; pass iff stdout holds
  ``Your Design Passed``.

Fail-fast (default on, VerilogEval only): every VerilogEval testbench counts mismatching samples
in ``tb.stats1.errors`` and fails the sample when the final count is non-zero. The count never goes
down, so a small extra top-level module that calls ``$finish`` as soon as it leaves zero changes no
pass/fail verdict; the testbench's ``final`` block still prints ``Mismatches: N in M samples``
(counted up to the stop). It turns a wrong answer to a long testbench (conwaylife: 3-9 s) into a
few milliseconds. Off (``fail_fast=False``), the simulation runs as shipped and reports full counts.

How a response becomes the candidate (see :func:`candidate_files`): the code is located with
:func:`salv_trainer.extract.extract_code`. Where the benchmark gives the model a module header
(v1, v2 completion), a response that declares the top module itself is used as the whole module
(replacing header + completion); otherwise the response is a completion and the header is put in
front of it, as the harnesses do.

Untrusted responses (the model being trained writes them; a pass it can forge is a reward it learns
to hack):

* **Screening.** Every candidate is screened first by :func:`verislice.untrusted.screen_designs`
  (pyslang in a sandboxed worker, batched), elaborated alone with the task's top module: file/system
  tasks, names out of its own module tree (``tb.good1.q``), ``bind`` and directives are
  ``rejected``, what pyslang cannot compile is a ``compile_error``. What passes is replaced by the
  screened canonical text, which is what Icarus compiles.
* **Nonce.** For each simulation a random nonce is put in front of the testbench's own result string
  literal(s) only (the ``$display`` format holding ``Mismatches:`` in VerilogEval, the one holding
  ``Your Design Passed`` in RTLLM). The rules then count only result lines that carry the nonce
  (stripped again, so an honest candidate is judged exactly as the benchmark's harness judges it):
  a ``Mismatches: 0 ...`` the candidate prints itself counts for nothing.
* **Output to files.** The simulator's stdout/stderr go to files in the sandbox under the file-size
  limit and are read back line by line with bounded memory; output that hits the limit is never a
  pass.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from verislice import Source
from verislice.untrusted import DEFAULT_FILE_SIZE_MB, RunResult, run_limited, sandbox_dir, screen_designs

from ..extract import extract_code
from ._tasks import Task

__all__ = ["HARNESS_VERSION", "Job", "SampleResult", "VERDICTS", "candidate_files", "plan", "run_job",
           "result_literal_offsets", "screen_jobs"]

#: Bump when a rule changes: cached verdicts of another version are not reused.
#: 2: nonce'd result lines, screening (``rejected``), simulator output through files.
HARNESS_VERSION = 2

#: Every verdict a sample can get. Only ``pass`` counts as correct.
VERDICTS = (
    "pass",           # the benchmark's testbench says so (on its own, nonce'd result line)
    "rejected",       # screening refused the code (file/system task, reference outside the design, ...)
    "no_code",        # the response holds no Verilog at all (not simulated)
    "syntax_error",   # the compiler reports a syntax error
    "compile_error",  # any other compile/elaboration error (unknown module, port binding, ...)
    "warning",        # compiled and matched, but the rule fails warnings (v1 stderr, v2 no-sensitivity)
    "timeout",        # compile or simulation ran out of time (or the testbench printed TIMEOUT)
    "mismatch",       # simulated; the testbench reports mismatches / no pass message
    "sim_error",      # simulated, but the testbench never reported a result (crash, early $finish)
)

# Per-run limits in seconds, from the harnesses (v1: 30 s for everything; v2: `timeout 30`; RTLLM
# about 8 s). Compilation gets the same limit.
DEFAULT_TIMEOUTS = {"verilogeval-v2": 30.0, "verilogeval-v1": 30.0, "rtllm": 8.0}

_V2_COMPILE = ["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012"]
_V2_PASS = re.compile(r"^Mismatches: (\d+) in \d+ samples$")
_V1_PASS = re.compile(r"Mismatches: 0 in \d+ samples")
_ANY_MISMATCH = re.compile(r"Mismatches: (\d+) in \d+ samples")
_RTLLM_PASS = "Your Design Passed"
# The VerilogEval rules accept "Mismatches: 0 in 0 samples" (e.g. a candidate that calls $finish at
# time 0). We keep the benchmark's verdict and say so in the message.
_ZERO_SAMPLES = re.compile(r"^Mismatches: 0 in 0 samples$", re.M)
_ZERO_NOTE = "passed with 0 samples compared (the benchmark's rule accepts it)"


@dataclass(frozen=True)
class SampleResult:
    """Verdict of one response. ``code`` is the harness's own label where it has one (v2:
    the ``sv-iv-analyze`` letter, ``.`` = pass), ``message`` the first telling log line."""

    verdict: str
    code: str = ""
    mismatches: int | None = None
    seconds: float = 0.0
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "code": self.code, "mismatches": self.mismatches,
                "seconds": round(self.seconds, 4), "message": self.message}

    @classmethod
    def from_json(cls, d: Mapping) -> SampleResult:
        return cls(d["verdict"], d.get("code", ""), d.get("mismatches"), d.get("seconds", 0.0),
                   d.get("message", ""))


@dataclass(frozen=True)
class Job:
    """One simulation to run: files for the sandbox and the rule that reads the log.

    ``code`` is the candidate as extracted from the response; it is the tail of file ``code_file``
    (screening swaps that tail for the screened text) and must define module ``top``. ``nonce_at``
    maps a file to the offsets of the testbench's result literals, where :func:`run_job` inserts
    the run's nonce. ``key`` hashes everything that decides the verdict (the cache key).
    """

    rule: str
    files: Mapping[str, str]
    testbench_top: str
    timeout: float
    key: str = field(default="", compare=False)
    code: str = ""
    code_file: str = ""
    top: str = ""
    nonce_at: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    screened: bool = False


# -- candidates --------------------------------------------------------------------------------

_FENCE_BODY = re.compile(r"```[^\n]*\n(.*?)(?:```|\Z)", re.S)
_BEGIN_DONE = re.compile(r"\[BEGIN\](.*?)(?:\[DONE\]|\Z)", re.S)


def _completion_text(response: str) -> str:
    """The code part of a completion-style response (no module line of its own)."""
    fences = _FENCE_BODY.findall(response)
    if fences:
        return fences[-1]
    m = _BEGIN_DONE.search(response)
    if m:
        return m.group(1)
    return response


def _declares(code: str, module: str) -> bool:
    return re.search(rf"\b(?:module|macromodule)\s+{re.escape(module)}\b", code) is not None


def candidate_code(task: Task, response: str) -> str | None:
    """The Verilog that stands for ``response`` in place of the model's module(s).

    ``None`` when the response holds no code. For benchmarks with a module header, a response that
    does not declare the top module is a completion: ``module_header + "\\n" + completion``.
    """
    block = extract_code(response)
    if block is not None and not _declares(block.text, task.top_module):
        # e.g. the module in one fence, then a testbench in the last one: take the last fenced
        # block that declares the top module
        for body in reversed(_FENCE_BODY.findall(response)):
            if _declares(body, task.top_module):
                found = extract_code(body)
                block = found if found is not None else block
                break
    if task.module_header:
        if block is not None and _declares(block.text, task.top_module):
            return block.text
        body = _completion_text(response)
        if not body.strip():
            return None
        return task.module_header + "\n" + body
    if block is None or not block.text.strip():
        return None
    return block.text


FAIL_FAST_FILE = "salv_fail_fast.sv"
FAIL_FAST_TOP = "__salv_eval_fail_fast"
FAIL_FAST_SOURCE = f"""module {FAIL_FAST_TOP};
  initial begin
    wait (tb.stats1.errors != 0);
    $finish;
  end
endmodule
"""


def candidate_files(task: Task, code: str, *, fail_fast: bool = False) -> dict[str, str]:
    """Files the benchmark's harness writes for candidate ``code`` (plus the fail-fast watcher
    for VerilogEval when ``fail_fast``)."""
    rule = task.rule
    extra = {FAIL_FAST_FILE: FAIL_FAST_SOURCE} if fail_fast and task.testbench_top == "tb" \
        and "stats1.errors" in task.testbench else {}
    if rule == "verilogeval-v2":
        return {"candidate.sv": code, "test.sv": task.testbench, "ref.sv": task.reference, **extra}
    if rule == "verilogeval-v1":
        return {"test.sv": task.testbench + "\n" + code, **extra}
    files = dict(task.extra_files)
    files.update({"design.v": code, "testbench.v": task.testbench, "ts.f": "+timescale+1ns/1ns\n"})
    return files


def plan(task: Task, response: str, *, timeout: float | None = None,
         fail_fast: bool = True) -> Job | SampleResult:
    """The simulation ``response`` needs, or its verdict when none is needed (``no_code``).

    The job still holds the raw candidate: :func:`screen_jobs` screens it (batched) before it runs.
    """
    code = candidate_code(task, response)
    if code is None:
        return SampleResult("no_code", message="no Verilog code found in the response")
    files = candidate_files(task, code, fail_fast=fail_fast)
    t = timeout if timeout is not None else DEFAULT_TIMEOUTS[task.rule]
    code_file = {"verilogeval-v2": "candidate.sv", "verilogeval-v1": "test.sv"}.get(task.rule, "design.v")
    tb_file = "testbench.v" if task.rule == "rtllm" else "test.sv"
    # v1's test.sv is testbench + "\n" + code: the offsets found in the testbench alone hold there
    # too, and nothing in the candidate's part can ever be rewritten
    nonce_at = {tb_file: result_literal_offsets(task.testbench, task.rule)}
    h = hashlib.sha256()
    for part in (str(HARNESS_VERSION), task.rule, task.testbench_top, repr(t)):
        h.update(part.encode() + b"\0")
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode("utf-8", "replace") + b"\0")
    return Job(task.rule, files, task.testbench_top, t, h.hexdigest(), code=code, code_file=code_file,
               top=task.top_module, nonce_at=nonce_at)


# -- result literals and the nonce ----------------------------------------------------------------

# Testbench text cut into comments, string literals and the rest. Only a string literal that is the
# format (first argument) of $display/$strobe is a result literal: both end their output with a
# newline, so nothing the candidate prints can follow the nonce'd text on its line. $write (no
# newline) and $fdisplay/$fwrite (files, which must never hold the nonce) are left alone.
_LEXEMES = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"', re.S)
_DISPLAY_OPEN = re.compile(r"\$(?:display|strobe)[bho]?\s*\(\s*\Z")
#: What marks a testbench's result literal, per rule.
RESULT_TEXT = {"verilogeval-v2": "Mismatches:", "verilogeval-v1": "Mismatches:",
               "rtllm": "Your Design Passed"}


@functools.lru_cache(maxsize=1024)
def result_literal_offsets(testbench: str, rule: str) -> tuple[int, ...]:
    """Offsets just inside the opening quote of each result literal of ``testbench``.

    VerilogEval: the ``$display`` format holding ``Mismatches:``; RTLLM: the one holding
    ``Your Design Passed`` (failure texts are not needed: no nonce'd pass line means no pass, and
    a failure format may print the design's values with ``%s``). Comments are skipped. Empty when the
    testbench has none: then no run of it can pass.
    """
    marker = RESULT_TEXT[rule]
    return tuple(
        m.start() + 1 for m in _LEXEMES.finditer(testbench)
        if m.group().startswith('"') and marker in m.group()
        and _DISPLAY_OPEN.search(testbench, max(0, m.start() - 64), m.start()))


def _insert(text: str, offsets: Sequence[int], nonce: str) -> str:
    if not offsets:
        return text
    cuts = (0, *offsets, len(text))
    return nonce.join(text[a:b] for a, b in itertools.pairwise(cuts))


def _new_nonce() -> str:
    """A fresh nonce per simulation: hex only, so it never holds a needle of the rules ("error")."""
    return "@" + secrets.token_hex(16) + "@"


# -- screening (verislice.untrusted) ------------------------------------------------------------------


_SCREEN_VERDICT = {"REJECTED": "rejected", "COMPILE_ERROR": "compile_error", "TIMEOUT": "timeout"}


def screen_jobs(jobs: Sequence[Job], *, workers: int = 1) -> list[Job | SampleResult]:
    """Screen the candidate of every job, one batched call per top module (VerilogEval: one call).

    A refused candidate becomes its verdict (``rejected``, ``compile_error`` with pyslang's
    message, ``timeout``); an accepted one becomes the job with the screened canonical text in place
    of the raw code, so that Icarus compiles exactly what was screened.
    """
    out: list[Job | SampleResult] = list(jobs)
    by_top: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        if not job.screened:
            by_top.setdefault(job.top, []).append(i)
    for top, idx in by_top.items():
        # messages name the candidate's own file (v1's test.sv also holds the testbench)
        verdicts = screen_designs(
            [[Source(jobs[i].code, "design.v" if jobs[i].rule == "rtllm" else "candidate.sv")]
             for i in idx], top=top or None, jobs=workers)
        for i, s in zip(idx, verdicts, strict=True):
            job = jobs[i]
            if s.verdict != "OK":
                lines = (s.message or s.verdict).strip().splitlines() or [s.verdict]
                out[i] = SampleResult(_SCREEN_VERDICT.get(s.verdict, "rejected"), "", None, 0.0,
                                      lines[0][:300])
                continue
            files = dict(job.files)
            old = files[job.code_file]
            files[job.code_file] = old[:len(old) - len(job.code)] + s.text
            out[i] = replace(job, files=files, code=s.text, screened=True)
    return out


# -- running -----------------------------------------------------------------------------------


def run_job(job: Job) -> SampleResult:
    """Simulate ``job`` in a fresh sandbox and judge the log by its benchmark's rule.

    A fresh nonce goes in front of the testbench's result literals (see
    :func:`result_literal_offsets`); only lines carrying it count as the testbench's result.
    Never raises for anything the candidate does; a failure of the host (e.g. iverilog missing)
    gives a ``sim_error`` verdict whose message says so.
    """
    nonce = _new_nonce()
    try:
        with sandbox_dir("salv-eval-") as d:
            for name, text in job.files.items():
                text = _insert(text, job.nonce_at.get(name, ()), nonce)
                (d / name).write_text(text, encoding="utf-8", errors="replace")
            return _RUNNERS[job.rule](job, d, nonce)
    except OSError as exc:  # e.g. a full disk: still one verdict, never a lost run
        return SampleResult("sim_error", message=f"sandbox: {exc}")


# Every tool's stdout/stderr go to files in the sandbox (never through pipes into this process):
# the file-size limit of run_limited stops a candidate that floods them, and they are read back
# line by line, each line cut at _LINE_MAX, so memory stays bounded whatever the candidate prints.
_LOG_LIMIT = DEFAULT_FILE_SIZE_MB * 1024 * 1024
_LINE_MAX = 64 * 1024
_FLOOD = f"the simulation's output reached the {DEFAULT_FILE_SIZE_MB} MiB limit and was cut off"


@dataclass(frozen=True)
class _Log:
    """One output file of a run, read back lazily."""

    path: Path

    @property
    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def lines(self) -> Iterator[str]:
        """The file's lines without line ends; a line longer than ``_LINE_MAX`` bytes is cut."""
        try:
            fh = self.path.open("rb")
        except OSError:
            return
        with fh:
            while line := fh.readline(_LINE_MAX):
                if not line.endswith(b"\n"):  # skip the rest of an over-long line
                    while (more := fh.readline(_LINE_MAX)) and not more.endswith(b"\n"):
                        pass
                yield line.decode("utf-8", "replace").rstrip("\r\n")


@dataclass(frozen=True)
class _Ran:
    """A finished tool run: its result and its output files (``err`` is None when merged)."""

    r: RunResult
    out: _Log
    err: _Log | None

    @property
    def flooded(self) -> bool:
        """The output hit the file-size limit (the tool died of SIGXFSZ or the file is full)."""
        return self.r.returncode in (-25, 128 + 25) or any(
            log.size >= _LOG_LIMIT for log in (self.out, self.err) if log is not None)

    def lines(self) -> Iterator[str]:
        """stderr lines, then stdout lines (the order of the harnesses' ``stderr + stdout``)."""
        if self.err is not None:
            yield from self.err.lines()
        yield from self.out.lines()


def _run_logged(argv: Sequence[str], d: Path, *, timeout: float, name: str, merge: bool) -> _Ran:
    """Run ``argv`` in ``d`` with stdout to ``.name.out`` and stderr merged into it or to
    ``.name.err`` (dot names: no benchmark data file is called so)."""
    out, err = f".{name}.out", f".{name}.err"
    redirect = f'exec "$@" >{out} 2>&1' if merge else f'exec "$@" >{out} 2>{err}'
    r = run_limited(["sh", "-c", redirect, "sh", *argv], d, timeout=timeout)
    return _Ran(r, _Log(d / out), None if merge else _Log(d / err))


def _first(lines: Iterable[str], *needles: str) -> str:
    for line in lines:
        if any(n in line for n in needles):
            return line.strip()[:300]
    return ""


def _missing_tool(ran: _Ran) -> SampleResult | None:
    # sh reports a missing program in the redirected output, with exit status 127
    if ran.r.returncode == 127:
        line = _first(itertools.chain([ran.r.stderr], ran.lines()), "not found")
        if line:
            return SampleResult("sim_error", message=line)
    return None


def _results(lines: Iterable[str], nonce: str, limit: int = 100) -> list[str]:
    """The text after the nonce of each line that carries it: the testbench's own result lines."""
    return [line.split(nonce, 1)[1] for line in itertools.islice(
        (line for line in lines if nonce in line), limit)]


def _shown(lines: Iterable[str], nonce: str, rule: str) -> Iterator[str]:
    """Lines for messages: the nonce stripped, result lines the candidate forged left out."""
    marker = RESULT_TEXT[rule]
    return (line.replace(nonce, "") for line in lines if nonce in line or marker not in line)


def _fail_fast_args(job: Job) -> list[str]:
    return ["-s", FAIL_FAST_TOP, FAIL_FAST_FILE] if FAIL_FAST_FILE in job.files else []


def _run_v2(job: Job, d: Path, nonce: str) -> SampleResult:
    # one log per tool, stdout and stderr merged, as `sv-iv-analyze` reads them
    comp = _run_logged([*_V2_COMPILE, "-s", job.testbench_top, "-o", "sim", "candidate.sv", "test.sv",
                        "ref.sv", *_fail_fast_args(job)], d, timeout=job.timeout, name="compile",
                       merge=True)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    seconds = comp.r.seconds
    run = None
    if not comp.r.timed_out and comp.r.returncode == 0:
        # -none: no waveform dump (the verdict never depends on it; saves disk and time)
        run = _run_logged(["vvp", "-n", "sim", "-none"], d, timeout=job.timeout, name="sim",
                          merge=True)
        seconds += run.r.seconds

    def log() -> Iterator[str]:
        yield from comp.out.lines()
        if comp.r.timed_out:
            yield "TIMEOUT"
        if run is not None:
            yield from run.out.lines()
            if run.r.timed_out:
                yield "TIMEOUT"

    if run is not None and run.flooded:
        return SampleResult("sim_error", "R", None, seconds, _FLOOD)
    code, mismatches = sv_iv_analyze(log(), job.files["candidate.sv"], nonce)
    results = _results(log(), nonce)
    if code == "." and len(results) > 1:  # the testbench prints its result once, in `final`
        return SampleResult("sim_error", "R", None, seconds,
                            f"the result line appeared {len(results)} times")
    if code == "." and any(_ZERO_SAMPLES.search(t) for t in results):
        return SampleResult("pass", code, 0, seconds, _ZERO_NOTE)
    verdict = _V2_VERDICT.get(code, "mismatch")
    if code in ("R", "r") and not mismatches:
        verdict = "sim_error"
    message = "" if code == "." else (
        _first(_shown(log(), nonce, job.rule), "syntax error", ": error", "error", "TIMEOUT", "Unknown module",
               "Unable to bind", "declared here as wire", "sensitivit")
        or _first(_shown(log(), nonce, job.rule), "Mismatches:", "Hint:"))
    return SampleResult(verdict, code, mismatches, seconds, message)


_V2_VERDICT = {".": "pass", "S": "syntax_error", "e": "compile_error", "0": "compile_error",
               "w": "compile_error", "m": "compile_error", "c": "compile_error",
               "p": "compile_error", "C": "compile_error", "n": "warning", "T": "timeout",
               "R": "mismatch", "r": "mismatch"}


def sv_iv_analyze(log: str | Iterable[str], candidate: str,
                  nonce: str | None = None) -> tuple[str, int | None]:
    """VerilogEval v2's log rule: the ``sv-iv-analyze`` letter and the reported mismatch count.

    Letters: ``.`` pass, ``S`` syntax error, ``e`` explicit cast needed, ``0`` zero-width
    constant, ``n`` no sensitivities, ``w`` reg driven as wire, ``m`` unknown module, ``c``
    ``clk`` not bound, ``p`` port binding, ``T`` timeout, ``C`` other compile error, ``r``/``R``
    runtime mismatch (``r``: the candidate uses an asynchronous ``reset`` edge).

    With ``nonce``, a ``Mismatches: N in M samples`` line counts only when it starts with the nonce
    (which is stripped first): the testbench's own line, never one the candidate printed. The
    other needles count on every line, as in the benchmark (they can only fail a sample).
    """
    code = "?"
    error_c = error_p = no_mismatch = False
    mismatches: int | None = None
    for line in log.splitlines() if isinstance(log, str) else log:
        if "syntax error" in line:
            code = "S"
            break
        if "error" in line:
            error_c = True
        if "error: This assignment requires an explicit cast" in line:
            code = "e"
            break
        if "error: Sized numeric constant must have a size greater than zero" in line:
            code = "0"
            break
        if ("warning: always_comb process has no sensitivities" in line
                or "found no sensitivities so it will never trigger" in line):
            code = "n"
            break
        if "is declared here as wire" in line:
            code = "w"
            break
        if "Unknown module type" in line:
            code = "m"
            break
        if "Unable to bind wire/reg" in line:
            error_p = True
        if "Unable to bind wire/reg/memory `clk'" in line:
            code = "c"
            break
        if "TIMEOUT" in line:
            code = "T"
            break
        if nonce is not None:
            if not line.startswith(nonce):
                continue
            line = line[len(nonce):]
        m = _V2_PASS.match(line)
        if m:
            n = int(m.group(1))
            if n == 0:
                no_mismatch = True
            else:
                mismatches = n
    if code == "?" and error_p:
        code = "p"
    if code == "?" and error_c:
        code = "C"
    if code == "?" and no_mismatch:
        code, mismatches = ".", 0
    if code == "?":
        code = "R"
        for line in candidate.splitlines():
            if "posedge reset" in line or "negedge reset" in line or "posedge r)" in line:
                code = "r"
                break
    return code, mismatches


def _compile_failure(ran: _Ran) -> SampleResult:
    verdict = "syntax_error" if _first(ran.lines(), "syntax error") else "compile_error"
    message = _first(ran.lines(), "syntax error", ": error", "error") or next(
        (line.strip()[:300] for line in ran.lines()), "")
    return SampleResult(verdict, "failed: compile error.", None, ran.r.seconds, message)


def _run_v1(job: Job, d: Path, nonce: str) -> SampleResult:
    comp = _run_logged([*_V2_COMPILE, "-s", job.testbench_top, "-o", "test.vvp", "test.sv",
                        *_fail_fast_args(job)], d, timeout=job.timeout, name="compile", merge=False)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    if comp.r.timed_out:
        return SampleResult("timeout", "timed out", None, comp.r.seconds, "compilation timed out")
    if comp.r.returncode != 0:
        return _compile_failure(comp)
    left = max(1.0, job.timeout - comp.r.seconds)
    run = _run_logged(["vvp", "-n", "test.vvp", "-none"], d, timeout=left, name="sim", merge=False)
    seconds = comp.r.seconds + run.r.seconds
    if run.r.timed_out:
        return SampleResult("timeout", "timed out", None, seconds, f"simulation ran over {job.timeout:g} s")
    if run.flooded:
        return SampleResult("sim_error", "failed: no result", None, seconds, _FLOOD)
    results = _results(run.out.lines(), nonce)  # the testbench's own lines, nonce stripped
    mism = next((m for t in results if (m := _ANY_MISMATCH.search(t))), None)
    mismatches = int(mism.group(1)) if mism else None
    stderr = itertools.chain(comp.err.lines(), run.err.lines())  # type: ignore[union-attr]
    if any(_V1_PASS.search(t) for t in results):
        if len(results) > 1:  # the testbench prints its result once, in `final`
            return SampleResult("sim_error", "failed: no result", None, seconds,
                                f"the result line appeared {len(results)} times")
        if comp.err.size or run.err.size:  # type: ignore[union-attr]
            return SampleResult("warning", "failed: stderr", 0, seconds,
                                next((ln.strip()[:300] for ln in stderr if ln.strip()), ""))
        note = _ZERO_NOTE if any(_ZERO_SAMPLES.search(t) for t in results) else ""
        return SampleResult("pass", "passed", 0, seconds, note)
    if mismatches:
        return SampleResult("mismatch", "failed: mismatch", mismatches, seconds,
                            _first(results, "Mismatches:"))
    return SampleResult("sim_error", "failed: no result", None, seconds,
                        next((ln.strip()[:300] for ln in stderr if ln.strip()),
                             "the testbench printed no result"))


def _run_rtllm(job: Job, d: Path, nonce: str) -> SampleResult:
    comp = _run_logged(["iverilog", "-g2012", "-c", "ts.f", "-s", job.testbench_top, "-o", "sim.vvp",
                        "design.v", "testbench.v"], d, timeout=job.timeout, name="compile", merge=False)
    if (bad := _missing_tool(comp)) is not None:
        return bad
    if comp.r.timed_out:
        return SampleResult("timeout", "", None, comp.r.seconds, "compilation timed out")
    if comp.r.returncode != 0:
        return replace(_compile_failure(comp), code="")
    run = _run_logged(["vvp", "-n", "sim.vvp", "-none"], d, timeout=job.timeout, name="sim",
                      merge=False)
    seconds = comp.r.seconds + run.r.seconds
    if run.r.timed_out:
        return SampleResult("timeout", "", None, seconds, f"simulation ran over {job.timeout:g} s")
    if run.flooded:
        return SampleResult("sim_error", "", None, seconds, _FLOOD)
    if any(_RTLLM_PASS in t for t in _results(run.out.lines(), nonce)):
        return SampleResult("pass", "", None, seconds)
    printed, last = False, ""  # read as a stream: the output may be large
    for line in run.out.lines():
        printed = printed or bool(line.strip())
        if line.strip() and (nonce in line or _RTLLM_PASS not in line):  # not a forged pass line
            last = line.replace(nonce, "")
    if not printed:
        return SampleResult("sim_error", "", None, seconds, next(
            (ln.strip()[:300] for ln in run.err.lines() if ln.strip()),  # type: ignore[union-attr]
            "the testbench printed nothing"))
    return SampleResult("mismatch", "", None, seconds,
                        _first(_shown(run.out.lines(), nonce, job.rule), "fail", "Fail", "error", "Error")
                        or last.strip()[:300] or "no pass line from the testbench itself")


_RUNNERS = {"verilogeval-v2": _run_v2, "verilogeval-v1": _run_v1, "rtllm": _run_rtllm}
