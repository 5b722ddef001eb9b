"""Load and save agreements as TOML files."""

from __future__ import annotations

from pathlib import Path

from deconflict._util import atomic_write
from deconflict.agreement import Agreement
from deconflict.errors import AgreementError


def load_agreement(path: str | Path) -> Agreement:
    """Read an agreement TOML file; errors name the file and the bad field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AgreementError(f"{p}: no such agreement file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise AgreementError(f"{p}: cannot read agreement: {err}") from None
    try:
        return Agreement.from_toml(text, source=str(p))
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise AgreementError(f"{p}: not valid TOML: nested too deeply") from None


def save_agreement(agreement: Agreement, path: str | Path) -> None:
    """Write ``agreement`` as TOML (atomically: a temporary file, then a rename)."""
    atomic_write(path, agreement.to_toml())
