"""The table a kind prints as: upstream's column definitions (name, type, format, priority) and a row
function that computes every cell of an object, as the API server's table convertors do. Columns of
priority 1 are the ones kubectl and minictl show only with `-o wide`; both render from this one
registry (the API server as a `meta.k8s.io/v1` Table, minictl as text)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

from minik8s.api.kinds import KindInfo

from minik8s.api.printing.cells import since

NAME_DESCRIPTION = "Name must be unique within a namespace."
AGE_DESCRIPTION = "CreationTimestamp is the time this object was created."


@dataclass(frozen=True)
class Column:
    """One `columnDefinitions` entry; kubectl prints `name` upper-cased as the header."""
    name: str
    priority: int = 0
    format: str = ""
    type: str = "string"
    description: str = ""

    def definition(self) -> dict:
        return {"name": self.name, "type": self.type, "format": self.format, "description": self.description,
                "priority": self.priority}


Row = Callable[[object, "float | None"], list]


@dataclass(frozen=True)
class KindTable:
    columns: tuple[Column, ...]
    row: Row            # (object message, now) -> one string per column, wide ones included


TABLES: dict[KindInfo, KindTable] = {}


def _column(spec: Union[str, Column], priority: int) -> Column:
    if isinstance(spec, Column):
        return spec
    if spec == "Name":
        return Column(spec, priority, format="name", description=NAME_DESCRIPTION)
    if spec == "Age":
        return Column(spec, priority, description=AGE_DESCRIPTION)
    return Column(spec, priority)


def columns(info: KindInfo, *names: Union[str, Column], wide: tuple = ()):
    """Register the decorated row function as `info`'s table: the columns `names`, then `wide`, the
    priority-1 columns -o wide adds. A kind whose wide columns sit between others names them as
    Column(..., priority=1) in `names`."""
    def register(row: Row) -> Row:
        TABLES[info] = KindTable(tuple(_column(n, 0) for n in names) + tuple(_column(n, 1) for n in wide), row)
        return row
    return register


def _generic_row(o, now):
    return [o.metadata.name, since(o.metadata.creationTimestamp, now)]


# what upstream prints for a kind without a printer of its own
GENERIC = KindTable((_column("Name", 0), _column("Age", 0)), _generic_row)


def table_for(info: KindInfo) -> KindTable:
    return TABLES.get(info, GENERIC)
