"""Who is asking: every repository query filters on this, in SQL, not after the fact."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class Scope:
    """`owner` None means every owner (administrators and the pipeline's own system work)."""

    actor: str
    owner: str | None

    @classmethod
    def user(cls, user_id: str) -> Scope:
        return cls(actor=user_id, owner=user_id)

    @classmethod
    def everyone(cls, actor: str) -> Scope:
        return cls(actor=actor, owner=None)

    def clause(self, column: str = "owner") -> sql.Composable:
        """`owner = '<user>'` or TRUE; the owner is a bound literal, never concatenated text."""
        if self.owner is None:
            return sql.SQL("TRUE")
        return sql.SQL("{} = {}").format(
            sql.Identifier(*column.split(".")), sql.Literal(self.owner)
        )
