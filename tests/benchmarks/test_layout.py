"""The benchmarks live in `benchmarks/`, outside what the wheel installs (docs/performance.md)."""

import re
import tomllib
from pathlib import Path

from django.core.management import get_commands
from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[2]
BENCH_COMMANDS = ("bench_sync", "bench_api", "bench_webhooks", "bench_dashboard", "bench_scheduling")


def installed_packages() -> list[str]:
    """The packages a wheel built from pyproject.toml ships."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return find_packages(where=str(ROOT), include=include)


def test_the_wheel_leaves_the_benchmarks_out_and_ships_the_product():
    packages = installed_packages()
    assert {"config", "connections", "syncs", "webhooks", "dashboard"} <= set(packages)
    assert not [p for p in packages if p.split(".")[0] == "benchmarks"]


def test_no_product_package_holds_benchmark_code():
    modules = [path for package in installed_packages() for path in (ROOT / package.replace(".", "/")).glob("*.py")]
    assert len(modules) > 50  # the walk found the product, not an empty folder
    assert [str(p.relative_to(ROOT)) for p in modules if "bench" in p.name] == []
    importing = [str(p.relative_to(ROOT)) for p in modules
                 if re.search(r"^\s*(from|import) benchmarks\b", p.read_text(), re.MULTILINE)]
    assert importing == []


def test_the_bench_commands_come_from_the_benchmarks_app():
    commands = get_commands()
    assert {name: commands.get(name) for name in BENCH_COMMANDS} == dict.fromkeys(BENCH_COMMANDS, "benchmarks")
