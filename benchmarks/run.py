"""Run every benchmark and write the figures to docs/benchmarks.md.

    python benchmarks/run.py [--quick]

Each script compares its figures with the named reference or floor in the same run.
``--quick`` runs every script at a tenth of its size (a smoke run; the figures are not
the goals' sizes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "benchmarks.md"

SCRIPTS = (
    ("bench_load.py", [], ["--events", "100000"]),
    ("bench_decide.py", [], ["--subjects", "10000", "--items", "100000", "--consents", "200000",
                             "--meetings", "20000", "--questions", "10000"]),
    ("bench_select.py", [], ["--items", "1000000"]),
    ("bench_impact.py", [], ["--items", "1000", "--datasets", "5"]),
    ("bench_build.py", [], ["--items", "1000000"]),
)

METHOD = """# Benchmarks

Figures from `make bench` (`python benchmarks/run.py`), which runs each script below and
rewrites this page. Every figure stands beside the reference or floor measured in the
same run on the same machine; goals come from the issues that set them. Tests never
assert timings.

- `benchmarks/bench_load.py` — a synthetic world (`consentgate synth`) of about 1,000,000
  events loaded with `consentgate load` into SQLite and into PostgreSQL (log chained), and
  verified with `consentgate audit verify`; floors: plain `sqlite3` executemany in
  1,000-row transactions, psycopg `COPY`, canonical JSON + SHA-256 alone.
- `benchmarks/bench_decide.py` — 100,000 subjects, 1,000,000 items, 2,000,000 consents:
  single decisions (`decide`, which remembers nothing between questions, on the 4 KiB
  pages a process starts with and after `runtime.use_huge_pages()`),
  a batch, and `consentgate decide --batch` end to end on SQLite (three runs once the
  load's writes are flushed, the median counted); reference: Cedar
  (`cedarpy`) on an equivalent simpler policy, in a process of its own, given the
  entities each request needs (as Cedar applications supply them) and, its fastest from
  Python, one entity store parsed once and shared by every call; Cedar's single-call
  rounds alternate with consentgate's, and the ratio is the median of the pairs'.
- `benchmarks/bench_select.py` — dataset selection over 10,000,000 items, 1,000,000
  subjects and 2,000,000 meetings of 3; floor: a plain DuckDB anti-join over the same
  Arrow tables; also Spark in local mode and the per-item path, extrapolated.
- `benchmarks/bench_impact.py` — one subject's 10,000 items across 20 datasets, after a
  withdrawal: `impact --subject` in process (cold, and with a warm `Decider` as an API
  worker has) and as a command; floor: reading the candidates out of the manifests alone.
- `benchmarks/bench_build.py` — a whole `dataset build --catalog` over 10,000,000 items
  in a Parquet catalog, with 1,000,000 subjects, 2,000,000 meetings of 3 and 2,000,000
  consents loaded into a SQLite store with `load` (kept in `bench-out/` between runs):
  the state read as columns through ADBC beside the same read row by row, `select`,
  writing the manifest, the whole build in process and as a command with its peak RSS.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sections = []
    for script, full, quick in SCRIPTS:
        command = [sys.executable, str(HERE / script), *(quick if args.quick else full)]
        print("running", " ".join(command[1:]), flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sections.append(f"## {script}\n\nFailed:\n\n```\n{done.stderr[-2000:]}\n```\n")
            print(done.stderr[-2000:], file=sys.stderr)
            continue
        print(done.stdout)
        sections.append(done.stdout.strip() + "\n")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    kind = "quick run (a tenth of the goals' sizes)" if args.quick else "full run"
    DOC.write_text(METHOD + f"\nLatest {kind}: {stamp}.\n\n" + "\n".join(sections))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
