"""The generator's self-checks (generator/_selfcheck.py): determinism for a seed (and across thread counts), every
file format of DESIGN §3 in both modes, gid check digits, referential integrity, every planted bad record really
in its file, and a company subset writing the same bytes."""

from __future__ import annotations

from generator import _selfcheck


def test_generator_self_checks_pass(capsys) -> None:
    assert _selfcheck.main([]) == 0
    assert "all self-checks passed" in capsys.readouterr().out
