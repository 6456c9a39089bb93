"""The benchmark: its flags, and how its report sets each contender against the
tutorial's loop."""

import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location(
    "benchmark", ROOT / "bench" / "benchmark.py"
)
benchmark = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark)


def figures(steps_per_s):
    return {"steps_per_s": steps_per_s, "wall_s": 1.0, "startup_s": 1.0, "peak_gb": 1.0}


def test_round_by_round_ratios_pair_each_round_with_its_own_tutorial_run():
    # The machine was slow in round 2: the ratio of the medians (540 / 350) pairs a
    # fast round with a slow one, the rounds themselves gave 1.6x and 1.5x.
    results = {
        "tutorial": [figures(300.0), figures(400.0)],
        "gan_mnist": [figures(480.0), figures(600.0)],
    }
    assert benchmark.paired_ratios(results, "gan_mnist") == [1.6, 1.5]


def test_report_row_shows_both_ratios_and_the_range(capsys):
    results = {
        "tutorial": [figures(300.0), figures(400.0), figures(350.0)],
        "gan_mnist": [figures(480.0), figures(600.0), figures(490.0)],
    }
    benchmark.print_table(results)
    row = next(
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("| gan_mnist.py |")
    )
    # Medians 490 and 350: 1.40x; rounds 1.60, 1.50, 1.40: median 1.50x.
    assert "| 1.40x | 1.50x (1.40-1.60) |" in row


def test_a_contender_that_stopped_early_is_paired_only_with_its_rounds():
    results = {
        "tutorial": [figures(300.0), figures(400.0), figures(350.0)],
        "jax-jit": [figures(330.0)],
    }
    assert benchmark.paired_ratios(results, "jax-jit") == [1.1]


def wall(seconds):
    return dict(figures(500.0), wall_s=seconds)


def test_extras_overhead_is_a_share_of_the_bare_run(capsys):
    benchmark.print_extras_overhead(
        {"gan_mnist": wall(66.0), "gan_mnist-no-extras": wall(60.0)}
    )
    assert "add 10.0% to gan_mnist.py's wall time" in capsys.readouterr().out


def test_a_default_run_faster_than_the_bare_one_is_called_noise(capsys):
    benchmark.print_extras_overhead(
        {"gan_mnist": wall(55.0), "gan_mnist-no-extras": wall(60.0)}
    )
    out = capsys.readouterr().out
    assert "add nothing measurable" in out and "%" not in out


def refusal(capsys, *argv):
    with pytest.raises(SystemExit) as exit_info:
        benchmark.parse_flags(list(argv))
    assert exit_info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_only_with_no_contender_is_refused(capsys):
    assert "--only names no contender" in refusal(capsys, "--only", " , ,")


def test_a_contender_named_twice_runs_once():
    flags = benchmark.parse_flags(["--only", "gan_mnist,tutorial,gan_mnist"])
    assert flags.contenders == ["gan_mnist", "tutorial"]


def test_peer_python_must_run_python(capsys, tmp_path):
    not_python = tmp_path / "fake-python"
    not_python.write_text("#!/bin/sh\necho hello\n")
    not_python.chmod(0o755)
    assert "is not an executable Python" in refusal(
        capsys, "--peer-python", str(not_python)
    )
