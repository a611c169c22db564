"""Generate a national day of crossings (issue 15): 10^7 crossings over 3,000 checkpoints, received in one UTC day
(yesterday: one partition of the partitioned crossing table), in a PostgreSQL database of its own.

    python bench/gen_national_day.py                        # 10,000,000 crossings into checkpass_bench_national
    python bench/gen_national_day.py --crossings 1000000    # scaled down
    python bench/gen_national_day.py --drop

The rows are gen_crossings.py's (hash-chained per device, a daily rhythm, about 85 % released, 8 % escorted with
their escort requests, 5 % refused, 2 % held for fever, Zipf-sized enterprises, the roll-ups counted once at the
end), with a country's proportions: one device at each of 3,000 checkpoints, 50,000 enterprises, 600,000 vehicles.
The database is made by the project's migrations, so the crossing table is partitioned as in production; rows go
in with COPY and the indexes are built once afterwards. Seeded: two runs make the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, time

import gen_crossings  # bench/: the script's own folder is on sys.path

DATABASE = "checkpass_bench_national"
MAX_CROSSINGS = 10_000_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--crossings", type=int, default=MAX_CROSSINGS)
    parser.add_argument("--checkpoints", type=int, default=3000)
    parser.add_argument("--enterprises", type=int, default=50_000)
    parser.add_argument("--vehicles", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument(
        "--home", default="/tmp/checkpass-bench-national", help="CHECKPASS_HOME for the settings"
    )
    parser.add_argument("--drop", action="store_true", help="drop the benchmark database and stop")
    args = parser.parse_args(argv)
    if not args.database.startswith("checkpass_bench"):
        parser.error(
            "the benchmark database's name must start with checkpass_bench (it is dropped and remade)"
        )
    if args.drop:
        gen_crossings.drop(args.database)
        return 0
    if not 1 <= args.crossings <= MAX_CROSSINGS or not 1 <= args.checkpoints <= 10_000:
        parser.error(f"--crossings must be 1..{MAX_CROSSINGS:,} and --checkpoints 1..10,000")
    load = argparse.Namespace(
        count=args.crossings,
        days=1,
        checkpoints=args.checkpoints,
        devices=1,
        enterprises=args.enterprises,
        vehicles=args.vehicles,
        seed=args.seed,
        database=args.database,
        home=args.home,
        end=datetime.combine(datetime.now(UTC).date(), time(), UTC),  # yesterday, midnight to midnight (UTC)
    )
    print(json.dumps(gen_crossings.fill(load), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
