"""Storage: tables, migrations, the import, and reading state back."""

from .engine import COLUMNAR_FROM, DEFAULT_URL, Store, normalize_url, read_head
from .load import LoadResult, load_lines

__all__ = ["COLUMNAR_FROM", "DEFAULT_URL", "LoadResult", "Store", "load_lines", "normalize_url", "read_head"]
