"""The `lake sql` prompt driven as a person would, through a pseudo-terminal: statements over several lines,
`.tables`, `describe`, an error, a refused DROP, history and line editing with the arrow keys, Ctrl-C, exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from lake.config import REPO_ROOT
from tests.analyst_lake import make_lake, snapshot

pytestmark = pytest.mark.integration
PROMPT = "lake> "
UP, CTRL_A, RIGHT, CTRL_D_DELETE = "\x1b[A", "\x01", "\x1b[C", "\x04"


def test_the_prompt_as_a_person_uses_it(tmp_path: Path) -> None:
    lake = make_lake(tmp_path / "lake")
    before = snapshot(Path(lake.cfg.uri))
    (tmp_path / "inputrc").write_text("set enable-bracketed-paste off\n")
    env = {**os.environ, "LAKE_STATE": str(tmp_path / "state"), "TERM": "xterm", "INPUTRC": str(tmp_path / "inputrc")}
    env.pop("LAKE_URI", None)
    child = pexpect.spawn(sys.executable, ["-m", "lake.cli", "sql", "--lake", lake.cfg.uri], cwd=str(REPO_ROOT),
                          env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
    try:
        child.expect("read-only")
        child.expect("exit, quit or Ctrl-D")
        child.expect_exact(PROMPT)

        child.sendline("select count(*) as members,")  # a statement over two lines
        child.expect_exact("..> ")
        child.sendline("  sum(spend_365d_yen) as spend from dim_members;")
        child.expect("4485000")
        child.expect_exact(PROMPT)

        child.sendline(".tables")
        child.expect("One row per group member")
        child.expect("mart_wide")
        child.expect_exact(PROMPT)

        child.sendline("describe dim_members")
        child.expect("The group member ID")
        child.expect_exact(PROMPT)

        child.sendline("selct 1;")
        child.expect("error: Parser Error: syntax error")
        child.expect_exact(PROMPT)
        assert "Traceback" not in child.before

        child.sendline("drop view dim_members;")
        child.expect("DROP refused: the marts are read-only")
        child.expect_exact(PROMPT)

        child.sendline("select 6 * 7 as answer;")
        child.expect(r"\b42\b")
        child.expect_exact(PROMPT)
        # up arrow recalls the line; Ctrl-A, 7 x right arrow and Ctrl-D (delete) edit it: 6 * 7 becomes 5 * 7
        child.send(UP + CTRL_A + RIGHT * 7 + CTRL_D_DELETE + "5\r")
        child.expect(r"\b35\b")
        child.expect_exact(PROMPT)

        child.sendline("select 1 +")  # Ctrl-C drops a half-typed statement and says how to leave
        child.expect_exact("..> ")
        child.sendintr()
        child.expect("exit, quit or Ctrl-D to leave")
        child.sendline("help")
        child.expect(r"\.describe MART")
        child.expect_exact(PROMPT)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "state" / "sql_history").read_text()
    assert "select 6 * 7 as answer;" in history and "select 5 * 7 as answer;" in history
    assert snapshot(Path(lake.cfg.uri)) == before
