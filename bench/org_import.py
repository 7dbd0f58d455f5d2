"""Org import benchmark: a 20,000-row HR export (CSV, Windows-1251, semicolons, Russian
headers, department paths) imported with `servicechain people import` into an empty
database, on SQLite and on PostgreSQL. Target: ≤ 10 s. Prints the figures."""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BIN, empty_database  # noqa: E402

FIRST = ["Иван", "Пётр", "Алексей", "Сергей", "Дмитрий", "Андрей", "Михаил", "Николай", "Фёдор", "Артём"]
FIRST_F = ["Анна", "Мария", "Елена", "Ольга", "Алёна", "Наталья", "Ирина", "Татьяна", "Светлана", "Юлия"]
LAST = ["Иванов", "Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов", "Новиков", "Фёдоров"]
DEPARTMENTS = [
    "Клиентский сервис / Колл-центр", "Клиентский сервис / Чат", "Доставка / Москва / Север", "Доставка / Москва / Юг",
    "Склад / Комплектация", "Склад / Приёмка", "ИТ / Разработка", "Финансы", "Маркетинг", "Персонал",
]


def make_file(path: Path, rows: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    lines = ["Табельный номер;ФИО;Эл. почта;Должность;Подразделение;Руководитель;Дата приёма"]
    for i in range(1, rows + 1):
        female = rng.random() < 0.5
        first = rng.choice(FIRST_F if female else FIRST)
        last = rng.choice(LAST) + ("а" if female else "")
        number = f"B-{i:06d}"
        email = f"user{i}@bench.example" if rng.random() < 0.7 else ""
        manager = f"B-{rng.randint(1, min(i - 1, 200)):06d}" if i > 1 else ""
        hired = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(2015, 2025)}"
        lines.append(f"{number};{last} {first};{email};Специалист;{rng.choice(DEPARTMENTS)};{manager};{hired}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1251"))


def run(engine: str, file: Path) -> float:
    env, _ = empty_database(engine, "servicechain_bench_import")
    started = time.perf_counter()
    result = subprocess.run([BIN / "servicechain", "people", "import", str(file)], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"import failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=20000)
    args = parser.parse_args()
    file = Path(tempfile.mkdtemp()) / "org.csv"
    make_file(file, args.rows)
    print(f"| engine | rows | seconds (≤ 10, whole CLI run incl. start-up) |")
    print("|---|---|---|")
    for engine in ("sqlite", "postgres"):
        print(f"| {engine} | {args.rows} | {run(engine, file):.1f} |", flush=True)


if __name__ == "__main__":
    main()
