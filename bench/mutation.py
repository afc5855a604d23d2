"""Mutation testing of the rules that guard people: do the tests notice when one of them is broken?

Two parts, both run in a temporary copy of the repository (the checkout is never edited):

- `named`: each rule named in docs/testing.md (the reviewer checks, the outbox's permanent refusals and platform
  filter, the département's exact-name rule, the silence on chatter) is broken by a small source edit, and the
  tests that guard it are run: KILLED when at least one fails, SURVIVED otherwise. Exits 1 if one survives, or if
  an edit no longer applies to the source. A couple of minutes: a smoke check.
- `campaign`: mutmut (its settings are [tool.mutmut] in pyproject.toml) over the guarded modules, each mutant
  checked by the tests that reach the function it changes. Prints, per module, the mutants, how many were killed,
  survived or timed out, the score, and every surviving mutant (file:line, the change). The slow one: one to
  two hours for the five modules on two shared cores.

    .venv/bin/python bench/mutation.py named
    .venv/bin/python bench/mutation.py campaign [--module review] [--jobs 2] [--workdir DIR] [--json FILE]
    .venv/bin/python bench/mutation.py campaign --workdir DIR --retest-survivors  # after writing tests
    .venv/bin/python bench/mutation.py campaign --repo /tmp/before --deselect tests/test_x.py::test_y  # the past
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# PostgreSQL variants are skipped without it: mutation runs are SQLite only.
POSTGRESQL_URL_VARIABLE = "ODPE_BOT_TEST_DATABASE_URL"

@dataclass(frozen=True)
class Guarded:
    """A module whose rules guard people, and the test files about what it does (those that exist are run)."""

    path: str
    tests: tuple[str, ...]


CIRCUITS = ("tests/test_documents.py", "tests/test_practices.py")
GUARDED = {
    "permissions": Guarded("bot/permissions.py", (
        *CIRCUITS, "tests/test_router.py", "tests/test_questions.py", "tests/test_directory.py",
        "tests/test_profile.py", "tests/test_console.py", "tests/test_config.py", "tests/test_slack.py",
        "tests/test_review_rights.py", "tests/test_guard_permissions.py", "tests/test_guard_review.py",
        "tests/test_guard_chatter.py",
    )),
    "review": Guarded("bot/review.py", (
        *CIRCUITS, "tests/test_slack_circuit.py", "tests/test_review_rights.py", "tests/test_guard_review.py",
        "tests/test_guard_permissions.py",
    )),
    "outbox": Guarded("bot/outbox.py", (
        *CIRCUITS, "tests/test_outbox.py", "tests/test_slack_circuit.py", "tests/test_guard_outbox.py",
    )),
    "forms": Guarded("bot/forms.py", (
        *CIRCUITS, "tests/test_calendar.py", "tests/test_profile.py", "tests/test_slack_forms.py",
        "tests/test_guard_forms.py", "tests/test_guard_dialogs.py",
    )),
    "dialogs": Guarded("bot/dialogs.py", (
        *CIRCUITS, "tests/test_calendar.py", "tests/test_questions.py", "tests/test_router.py",
        "tests/test_guard_forms.py", "tests/test_guard_dialogs.py",
    )),
}


@dataclass(frozen=True)
class Named:
    """A rule broken on purpose: `old` (found exactly once in `path`) becomes `new`; one of `tests` must fail."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


NAMED = (
    Named(
        "reviewer check: the review reactions no longer require a reviewer (ctx.require removed)",
        "commands/review.py",
        "    ctx.require(Role.REVIEWER)\n",
        "",
        ("tests/test_guard_review.py",),
    ),
    Named(
        "reviewer check: the role table lets any member run a reviewer's command",
        "bot/permissions.py",
        "Role.REVIEWER: frozenset({Role.REVIEWER}),",
        "Role.REVIEWER: frozenset({Role.MEMBER, Role.REVIEWER}),",
        ("tests/test_guard_permissions.py", "tests/test_router.py"),
    ),
    Named(
        "reviewer check: the room table lets review commands run in any room",
        "bot/permissions.py",
        "Where.REVIEW_ROOM: frozenset({RoomKind.REVIEW}),",
        "Where.REVIEW_ROOM: frozenset(RoomKind),",
        ("tests/test_guard_permissions.py", "tests/test_router.py"),
    ),
    Named(
        "permanent refusal: the outbox retries a message the platform refused for good",
        "bot/outbox.py",
        textwrap.indent(
            "except PermanentDeliveryError as exc:\n"
            '    log.warning("outbox message %s to %s given up: %s", message_id, room_id, exc)\n'
            "    await self._record(message_id, error=str(exc), retry_at=None)\n",
            " " * 12,
        ),
        "",
        ("tests/test_guard_outbox.py", "tests/test_outbox.py"),
    ),
    Named(
        "platform filter: the outbox tries messages of platforms it has no deliverer for",
        "bot/outbox.py",
        "                if m.platform in self.deliverers\n",
        "",
        ("tests/test_guard_outbox.py", "tests/test_outbox.py"),
    ),
    Named(
        "exact-name rule: no département is named exactly by what was typed (« savoie » is Savoie and Haute-Savoie)",
        "storage/departments.py",
        "    return next((d for d, folded_name in _folded_names() if folded_name == folded_query), None)\n",
        "    return None\n",
        ("tests/test_guard_forms.py", "tests/test_departments.py"),
    ),
    Named(
        "chatter: the router goes on with chatter in a shared room",
        "bot/router.py",
        "        if line is None and quote_error is None and not message.is_direct and message.room_kind is not "
        "RoomKind.REVIEW:\n            return []\n",
        "",
        ("tests/test_guard_chatter.py", "tests/test_router.py"),
    ),
    Named(
        "chatter: the console takes a room it does not know for a direct message, and answers chatter there",
        "integrations/console.py",
        "ROOMS.get(self.room, RoomKind.GROUP)",
        "ROOMS.get(self.room, RoomKind.DIRECT)",
        ("tests/test_guard_chatter.py",),
    ),
)


# --- the temporary copy -----------------------------------------------------------------------------------------


def repository_files(repo: Path) -> list[str]:
    """The files of the working tree as git sees them: tracked (as edited) and new ones not ignored."""
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True, capture_output=True,
    ).stdout.decode().split("\0")
    return sorted({name for name in listed if name and (repo / name).is_file()})


def copy_repository(repo: Path, target: Path) -> None:
    for name in repository_files(repo):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repo / name, destination)


@contextmanager
def workspace(repo: Path, workdir: Path | None) -> Iterator[Path]:
    """A copy of `repo`, in `workdir` (kept) or in a temporary folder (removed afterwards)."""
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="odpe-mutation-") as folder:
        yield Path(folder)


def child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in (POSTGRESQL_URL_VARIABLE, "PYTHONPATH")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def niced(command: Sequence[str]) -> list[str]:
    return ["nice", "-n", "19", *command]


# --- part (b): the named mutations ------------------------------------------------------------------------------


@dataclass
class Outcome:
    verdict: str  # KILLED, SURVIVED, TIMEOUT, NOT APPLIED, ERROR
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_pytest(copy: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, str, float]:
    started = time.monotonic()
    command = niced([str(BIN / "python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                     "-rf", *tests])
    try:
        done = subprocess.run(command, cwd=copy, env=child_environment(), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout if isinstance(exc.stdout, str) else ""
        return None, output, time.monotonic() - started
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def failed_tests(output: str) -> list[str]:
    return re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)


def named_check(args: argparse.Namespace) -> int:
    with workspace(args.repo, args.workdir) as copy:
        copy_repository(args.repo, copy)
        chosen = [n for n in NAMED if not args.only or any(word in n.name for word in args.only)]
        every_test = sorted({t for n in chosen for t in n.tests if (copy / t.split("::")[0]).exists()})
        code, output, seconds = run_pytest(copy, every_test, args.timeout)
        print(f"baseline: {' '.join(every_test)} — {'passed' if code == 0 else 'FAILED'} in {seconds:.0f} s")
        if code != 0:
            print(output[-3000:])
            print("The tests fail without any mutation: fix them first.")
            return 2
        outcomes: list[tuple[Named, Outcome]] = []
        for mutation in chosen:
            outcome = apply_and_test(copy, mutation, args.timeout)
            outcomes.append((mutation, outcome))
            by = f" by {outcome.failed[0]}" if outcome.failed else ""
            print(f"{outcome.verdict:<11} {mutation.name}{by} ({outcome.seconds:.0f} s)", flush=True)
        bad = [m for m, o in outcomes if o.verdict not in ("KILLED", "TIMEOUT")]
        print(f"\n{len(outcomes) - len(bad)} of {len(outcomes)} named mutations make a test fail.")
        return 1 if bad else 0


def apply_and_test(copy: Path, mutation: Named, timeout: float) -> Outcome:
    path = copy / mutation.path
    original = path.read_text(encoding="utf-8")
    if original.count(mutation.old) != 1:
        return Outcome("NOT APPLIED", [f"{mutation.path} has {original.count(mutation.old)} copies of the edited text"])
    tests = [t for t in mutation.tests if (copy / t.split("::")[0]).exists()]
    if not tests:
        return Outcome("ERROR", ["none of its tests exists"])
    path.write_text(original.replace(mutation.old, mutation.new), encoding="utf-8")
    try:
        code, output, seconds = run_pytest(copy, tests, timeout)
    finally:
        path.write_text(original, encoding="utf-8")
    if code is None:
        return Outcome("TIMEOUT", [], seconds)
    if code == 0:
        return Outcome("SURVIVED", [], seconds)
    if code == 1:
        return Outcome("KILLED", failed_tests(output), seconds)
    # 2: interrupted or a collection error, 3: pytest's internal error, 4: usage: the edit broke the code itself.
    return Outcome("ERROR", [output.strip().splitlines()[-1] if output.strip() else f"pytest exit {code}"], seconds)


# --- part (a): the mutmut campaign ------------------------------------------------------------------------------


def mutmut_settings(copy: Path, module: str, deselect: Sequence[str]) -> dict[str, object]:
    """[tool.mutmut] of this repository's pyproject.toml, narrowed to `module` and the tests about it."""
    with open(HERE / "pyproject.toml", "rb") as f:
        settings: dict[str, object] = dict(tomllib.load(f)["tool"]["mutmut"])
    guarded = GUARDED[module]
    settings["only_mutate"] = [guarded.path]
    selection = settings.get("pytest_add_cli_args_test_selection", [])
    assert isinstance(selection, list)
    kept = [a for a in selection if a.startswith("--deselect")]
    tests = [t for t in guarded.tests if (copy / t).exists()]
    settings["pytest_add_cli_args_test_selection"] = tests + kept + [f"--deselect={d}" for d in deselect]
    return settings


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    assert isinstance(value, list), value
    return "[" + ", ".join(toml_value(v) for v in value) + "]"


def write_settings(copy: Path, settings: dict[str, object]) -> None:
    """Replace the copy's [tool.mutmut] (the past may have none) with `settings`."""
    pyproject = copy / "pyproject.toml"
    kept, skipping = [], False
    for line in pyproject.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            kept.append(line)
    kept += ["", "[tool.mutmut]"] + [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    pyproject.write_text("\n".join(kept) + "\n", encoding="utf-8")


def run_mutmut(copy: Path, jobs: int, names: Sequence[str] = ()) -> float:
    started = time.monotonic()
    log = copy / "mutmut.log"
    with open(log, "a", encoding="utf-8") as out:
        done = subprocess.run(niced([str(BIN / "mutmut"), "run", "--max-children", str(jobs), *names]), cwd=copy,
                              env=child_environment(), stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SystemExit(f"mutmut failed (exit {done.returncode}); the end of {log}:\n{tail}")
    return time.monotonic() - started


FINGERPRINT = """
import json
from pathlib import Path
from mutmut.configuration import config
stats = Path("mutants/mutmut-stats.json")
data = json.loads(stats.read_text())
data["config_fingerprint"]["test_selection"] = config().config_fingerprint()["test_selection"]
stats.write_text(json.dumps(data))
"""


def keep_verdicts(copy: Path) -> None:
    """New test files widen the selection, which mutmut takes for a change of the tests that map to each function,
    and it would check every mutant again. Tests added cannot let a killed mutant live: the verdicts are kept, the
    new tests mapped (mutmut finds them), and the survivors checked again."""
    subprocess.run([str(BIN / "python"), "-c", FINGERPRINT], cwd=copy, env=child_environment(), check=True)


STATUS_BY_EXIT = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
                  36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", None: "not checked"}


def status(exit_code: int | None) -> str:
    return STATUS_BY_EXIT.get(exit_code, "suspicious")


def results(copy: Path, module: str) -> dict[str, str]:
    meta = copy / "mutants" / (GUARDED[module].path + ".meta")
    if not meta.exists():
        return {}
    data = json.loads(meta.read_text(encoding="utf-8"))
    return {name: status(code) for name, code in data["exit_code_by_key"].items()}


DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
names, path = json.loads(sys.argv[1]), sys.argv[2]
print(json.dumps({name: get_diff_for_mutant(name, path=path) for name in names}))
"""


def diffs(copy: Path, module: str, names: Sequence[str]) -> dict[str, str]:
    if not names:
        return {}
    command = [str(BIN / "python"), "-c", DIFFS, json.dumps(list(names)), GUARDED[module].path]
    done = subprocess.run(command, cwd=copy, env=child_environment(), capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(done.stdout)
    return found


def function_spans(source: str) -> dict[str, tuple[int, int]]:
    """First and last line of every function and method, by mutmut's mangled name (x_f, xǁClassǁmethod)."""
    spans: dict[str, tuple[int, int]] = {}
    tree = ast.parse(source)
    for node in tree.body:
        members = [(None, node)] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else []
        if isinstance(node, ast.ClassDef):
            members = [(node.name, m) for m in node.body if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)]
        for owner, function in members:
            first = min([function.lineno] + [d.lineno for d in function.decorator_list])
            key = f"xǁ{owner}ǁ{function.name}" if owner else f"x_{function.name}"
            spans[key] = (first, function.end_lineno or function.lineno)
    return spans


@dataclass
class Survivor:
    name: str
    line: int
    change: str


def describe(name: str, diff: str, lines: list[str], spans: dict[str, tuple[int, int]]) -> Survivor:
    """Where a mutant is in the module and what it changes, from mutmut's diff of its function."""
    function = name.rpartition(".")[2].rsplit("__mutmut_", 1)[0]
    first, last = spans.get(function, (1, len(lines)))
    removed, added, old_line, at = [], [], 0, None
    for row in diff.splitlines():
        hunk = re.match(r"^@@ -(\d+)", row)
        if hunk:
            old_line = int(hunk.group(1))
        elif row.startswith("-") and not row.startswith("---"):
            removed.append(row[1:].strip())
            at = at or first + old_line - 1
            old_line += 1
        elif row.startswith("+") and not row.startswith("+++"):
            added.append(row[1:].strip())
            at = at or first + old_line - 1
        elif old_line:
            old_line += 1
    if removed and (at is None or at > len(lines) or lines[at - 1].strip() != removed[0]):
        # The function's text as mutmut prints it may start elsewhere than its `def`: find the line itself.
        at = next((n for n in range(first, last + 1) if lines[n - 1].strip() == removed[0]), at)
    change = " / ".join(removed) + "  →  " + (" / ".join(added) or "(removed)")
    return Survivor(name, at or first, change)


def campaign(args: argparse.Namespace) -> int:
    """One mutmut session per module, each in its own copy (its folder `<workdir>/<module>` when kept)."""
    report: dict[str, dict[str, object]] = {}
    seconds: dict[str, float] = {}
    for module in args.module or list(GUARDED):
        workdir = args.workdir / module if args.workdir is not None else None
        reused = workdir is not None and (workdir / "mutants").exists()
        if args.retest_survivors and not reused:
            raise SystemExit(f"--retest-survivors needs the --workdir of an earlier campaign over {module}")
        with workspace(args.repo, workdir) as copy:
            if reused:
                # Newer tests (and only tests) come in: the mutated source stays the one measured.
                for name in repository_files(args.repo):
                    if name.startswith("tests/"):
                        (copy / name).parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(args.repo / name, copy / name)
                write_settings(copy, mutmut_settings(copy, module, args.deselect))
                keep_verdicts(copy)
            else:
                copy_repository(args.repo, copy)
                write_settings(copy, mutmut_settings(copy, module, args.deselect))
            names: list[str] = []
            if args.retest_survivors:
                names = [n for n, s in results(copy, module).items() if s in ("survived", "no tests", "timeout")]
            print(f"{module}: mutmut in {copy}, its output in {copy / 'mutmut.log'}", flush=True)
            ran = not args.retest_survivors or bool(names)
            seconds[module] = run_mutmut(copy, args.jobs, names) if ran else 0.0
            report.update(summarize(copy, [module]))
            print(f"{module}: {seconds[module] / 60:.1f} min", flush=True)
    print(f"\n{'module':<13}{'mutants':>8}{'killed':>8}{'survived':>9}{'timeout':>8}{'no tests':>9}{'score':>8}")
    for module, row in report.items():
        print(f"{module:<13}{row['mutants']:>8}{row['killed']:>8}{row['survived']:>9}{row['timeout']:>8}"
              f"{row['no tests']:>9}{row['score']:>7.1f}%")
    for module, row in report.items():
        if row["surviving"]:
            path = GUARDED[module].path
            print(f"\nsurviving in {path}:")
            for survivor in row["surviving"]:  # type: ignore[attr-defined]
                print(f"  {path}:{survivor['line']:<5} {survivor['change']}   [{survivor['name']}]")
    print(f"\nmutmut ran {sum(seconds.values()) / 60:.1f} min")
    if args.json:
        figures = {"seconds": {m: round(s) for m, s in seconds.items()}, "modules": report}
        args.json.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


def summarize(copy: Path, modules: Sequence[str]) -> dict[str, dict[str, object]]:
    """Per module: counts by status, the score ((killed + timeout) / mutants, as mutmut's badge reckons it) and
    the surviving mutants (survived, or reached by no test), in line order."""
    report: dict[str, dict[str, object]] = {}
    for module in modules:
        found = results(copy, module)
        counts = Counter(found.values())
        alive = [n for n, s in found.items() if s in ("survived", "no tests")]
        source = (copy / GUARDED[module].path).read_text(encoding="utf-8")
        lines, spans = source.splitlines(), function_spans(source)
        surviving = sorted((describe(n, d, lines, spans) for n, d in diffs(copy, module, alive).items()),
                           key=lambda s: (s.line, s.name))
        total = len(found) - counts["skipped"]
        report[module] = {
            "mutants": len(found), "killed": counts["killed"], "survived": counts["survived"],
            "timeout": counts["timeout"], "no tests": counts["no tests"],
            "other": len(found) - sum(counts[k] for k in ("killed", "survived", "timeout", "no tests")),
            "score": round(100 * (counts["killed"] + counts["timeout"]) / total, 1) if total else 0.0,
            "surviving": [s.__dict__ for s in surviving],
        }
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=HERE, help="the working tree to measure (default: this one)")
    parser.add_argument("--workdir", type=Path, help="keep the copy there (default: a temporary folder)")
    parts = parser.add_subparsers(dest="part", required=True)
    named = parts.add_parser("named", help="each named mutation must make a test fail (minutes)")
    named.add_argument("--only", nargs="*", help="only the named mutations whose name holds one of these words")
    named.add_argument("--timeout", type=float, default=300.0, help="seconds for one pytest run")
    runs = parts.add_parser("campaign", help="mutmut over the guarded modules (slow)")
    runs.add_argument("--module", action="append", choices=sorted(GUARDED), help="only this module (repeatable)")
    runs.add_argument("--jobs", type=int, default=2, help="mutants checked at once (default 2)")
    runs.add_argument("--deselect", action="append", default=[], help="a test id to leave out (e.g. failing there)")
    runs.add_argument("--retest-survivors", action="store_true",
                      help="in an earlier --workdir: bring in the current tests, check survivors and timeouts again")
    runs.add_argument("--json", type=Path, help="also write the figures there")
    args = parser.parse_args()
    args.repo = args.repo.resolve()
    return named_check(args) if args.part == "named" else campaign(args)


if __name__ == "__main__":
    sys.exit(main())
