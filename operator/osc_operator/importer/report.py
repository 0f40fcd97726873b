"""What an import did: the files it wrote, what it could not translate, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Report:
    written: list[str] = field(default_factory=list)  # "path: what it holds"
    untranslated: list[str] = field(default_factory=list)  # constructs with no osc equivalent
    notes: list[str] = field(default_factory=list)  # translated, but worth knowing

    def not_translated(self, where: str, why: str) -> None:
        self.untranslated.append(f"{where}: {why}")

    def note(self, where: str, what: str) -> None:
        self.notes.append(f"{where}: {what}")

    def lines(self) -> list[str]:
        out = [f"wrote {item}" for item in self.written]
        out += [f"note: {item}" for item in self.notes]
        out += [f"NOT TRANSLATED: {item}" for item in self.untranslated]
        if not self.untranslated:
            out.append("everything was translated")
        return out
