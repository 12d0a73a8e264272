"""The tests' PostgreSQL server: psi.benchmarks.postgres, which the benchmarks share."""

from psi.benchmarks.postgres import TEMPLATE, PostgresServer

__all__ = ["TEMPLATE", "PostgresServer"]
