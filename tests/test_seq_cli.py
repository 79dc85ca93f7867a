"""python -m core.decode: streaming in constant memory, exit codes, a closed pipe, --confidence, error lines."""

import io
import os
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core import decode as cli

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def run_cli(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "core.decode", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=ENV, check=False)


# --- reading: lines as they arrive, over-long lines skipped in constant memory ---------------------------------


def test_arrivals_split_lines_across_chunks_and_cap_their_length():
    chunks = [b"Nov 28 ", b"2026\n28.11", b".2026\n", b"x" * 3000, b"y" * 3000 + b"\nlast", b""]
    got = list(cli.arrivals(iter(chunks[:-1]), cap=1024))
    assert got == [[], ["Nov 28 2026"], ["28.11.2026"], [], [cli.TooLong(6000)], ["last"]]
    assert list(cli.arrivals(iter([b"a" * 1024 + b"\n", b"b" * 1025]), cap=1024)) == [["a" * 1024], [],
                                                                                    [cli.TooLong(1025)]]
    assert list(cli.arrivals(iter([b"caf\xc3", b"\xa9\r\n\xff\n"]))) == [[], ["caf\u00e9\r", "\ufffd"]]


class _Dribble(io.RawIOBase):
    """A stdin fed by a generator, one line per read, that checks what was printed before giving the next."""

    def __init__(self, lines, out):
        self.lines, self.out, self.seen = iter(lines), out, []

    def readable(self):
        return True

    def read1(self, n=-1):
        self.seen.append(self.out.getvalue().count("\n"))  # lines printed before this read
        return next(self.lines, b"")


@pytest.fixture(scope="module")
def loaded():
    """main() in-process, with the model loaded once (load_seq_model memoised for this module)."""
    from core.runtime import decode as rt

    models = {}
    real = rt.load_seq_model

    def load(kind, provider="auto", *a, **k):
        if kind not in models:
            models[kind] = real(kind, "cpu", *a, **k)
        return models[kind]

    return load


def test_lines_are_printed_before_the_input_ends(loaded, monkeypatch):
    monkeypatch.setattr(cli, "load_seq_model", loaded)
    out = io.StringIO()
    stdin = _Dribble([b"Nov 28 2026\n", b"28.11.2026\n", b"1st of january 1900\n"], out)
    assert cli.main(["--model", "seq2seq_attention"], stdin=stdin, stdout=out) == 0
    assert stdin.seen == [0, 1, 2, 3]  # each answer was out before the next line was read
    assert out.getvalue().splitlines() == ["2026-11-28", "2026-11-28", "1900-01-01"]


def test_a_slow_pipe_gets_each_answer_at_once():
    """A real pipe: write one line, read its answer, then the next; the input stays open throughout."""
    p = subprocess.Popen([sys.executable, "-m", "core.decode", "--model", "seq2seq_attention"], cwd=ROOT, env=ENV,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for line, want in (("Nov 28 2026", b"2026-11-28\n"), ("12/31/2099", b"2099-12-31\n")):
            p.stdin.write(line.encode() + b"\n")
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], 90)
            assert ready, "no answer while the input is still open"
            assert p.stdout.readline() == want
        p.stdin.close()
        assert p.wait(60) == 0
    finally:
        p.kill()
        p.wait()


def _peak_rss_kb(n_lines: int) -> int:
    """Peak RSS of a decode process fed ``n_lines`` (1 in 20 a date to decode, the rest unreadable)."""
    code = ("import resource, sys\nfrom core.decode import main\nrc = main(['--model', 'seq2seq_attention', "
            "'--provider', 'cpu'])\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
            "sys.exit(rc)")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=ENV, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    counted = {}

    def drain():
        counted["lines"] = sum(1 for _ in p.stdout)

    reader = threading.Thread(target=drain)
    reader.start()
    block = b"".join(b"Sat 28 Nov 2026\n" if i % 20 == 0 else b"Samstag, 28. November 2026!\n" for i in range(1000))
    for _ in range(n_lines // 1000):
        p.stdin.write(block)
    p.stdin.close()
    err = p.stderr.read().decode()
    assert p.wait(300) == 1  # unreadable lines: not every line was answered
    reader.join()
    assert counted["lines"] == n_lines
    return int(err.strip().splitlines()[-1])


def test_memory_does_not_grow_with_the_number_of_lines():
    small, big = _peak_rss_kb(10_000), _peak_rss_kb(100_000)
    # keeping the 90,000 extra lines and their error messages would take about 30 MB (~350 bytes a line);
    # streaming, the two peaks differ by well under 1 MB (measured: 68.5 MB and 69.1 MB at 20k and 200k lines)
    assert big - small < 8_000, f"peak RSS {small} kB at 10k lines, {big} kB at 100k lines"


# --- exit codes, closed pipes, error lines ----------------------------------------------------------------------


def test_exit_status_is_zero_only_when_every_line_was_answered():
    assert run_cli("--model", "seq2seq_attention", stdin="Nov 28 2026\n12/31/2099\n").returncode == 0
    r = run_cli("--model", "seq2seq_attention", stdin="Nov 28 2026\n28 Novembre 2026 — lundi\n12/31/2099\n")
    assert r.returncode == 1 and r.stdout.splitlines()[1].startswith("error:") and len(r.stdout.splitlines()) == 3
    assert run_cli("--model", "seq2seq_attention", stdin="").returncode == 0  # no lines, nothing failed
    r = run_cli("--min-confidence", "2", "x")
    assert r.returncode == 2 and "probability" in r.stderr and "Traceback" not in r.stderr


def test_a_closed_pipe_ends_quietly(tmp_path):
    err, rc = tmp_path / "err", tmp_path / "rc"
    script = (f"yes 'Nov 28 2026' | head -n 30000 | {sys.executable} -m core.decode --model seq2seq_attention "
              f"2>{err} | head -1; echo ${{PIPESTATUS[2]}} > {rc}")
    r = subprocess.run(["bash", "-c", script], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.stdout == "2026-11-28\n"
    assert err.read_text() == "", err.read_text()  # no BrokenPipeError traceback, nothing at all
    assert rc.read_text().strip() == "1"  # not every line was written


def test_an_over_long_line_is_an_error_line_not_a_crash():
    r = run_cli("--model", "seq2seq_attention", stdin="Nov 28 2026\n" + "7" * 5_000_000 + "\n12/31/2099\n")
    out = r.stdout.splitlines()
    assert r.returncode == 1 and out[0] == "2026-11-28" and out[2] == "2099-12-31"
    assert out[1] == ("error: the line is 5000000 bytes long; lines over 1024 bytes are skipped "
                      "(the model reads at most 32 characters)")
    r = run_cli("--model", "seq2seq_attention", "x" * 2000)
    assert r.returncode == 1 and r.stdout.startswith("error: the line is 2000 bytes long")


_CONF = re.compile(r"^(\S+)  min p (\S+)  per char (.*)$")


@pytest.mark.parametrize("kind", ["transformer", "seq2seq_attention"])
def test_confidence_option_prints_each_characters_probability(kind):
    r = run_cli("--model", kind, "--confidence", stdin="Sat 28 Nov 2026\n2026-11-28\n")
    assert r.returncode == 0, r.stdout + r.stderr
    for line in r.stdout.splitlines():
        m = _CONF.match(line)
        assert m, line
        cells = m.group(3).split()
        toks, ps = cells[0::2], [float(x) for x in cells[1::2]]
        assert "".join(toks[:-1]) == m.group(1) == "2026-11-28" and toks[-1] == "<eos>"
        assert all(0 < p <= 1 for p in ps) and float(m.group(2)) == min(ps)


@pytest.mark.parametrize("kind", ["transformer", "seq2seq_attention"])
def test_impossible_and_out_of_range_outputs_are_error_lines(kind):
    """The issue's three cases: the ISO date is now an answer; the other two are never shown as answers."""
    r = run_cli("--model", kind, stdin="2026-11-28\n2100-01-01\n31 February 2023\n")
    out = r.stdout.splitlines()
    assert r.returncode == 1 and len(out) == 3
    assert out[0] == "2026-11-28"
    assert out[1].startswith("error: ") and "the model wrote '" in out[1]
    assert out[2].startswith("error: ") and "the model wrote '" in out[2]
    assert re.search(r"February 2023 has 28 days|unsure", out[2])


def test_min_confidence_zero_turns_the_flag_off_but_never_the_calendar():
    r = run_cli("--model", "transformer", "--min-confidence", "0", stdin="31 February 2023\n2026-13-01\n")
    assert r.returncode == 1 and all(line.startswith("error: ") for line in r.stdout.splitlines())
    assert "unsure" not in r.stdout
