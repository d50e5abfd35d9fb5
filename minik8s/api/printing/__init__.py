"""How each kind prints as a table, shared by the API server (the `meta.k8s.io/v1` Table kubectl
asks for) and minictl (text laid out like kubectl's): `table_for(info)` gives a kind's columns, in
upstream's names and priorities, and the function computing an object's cells. Each module below
registers the kinds it prints; importing this package registers them all."""
from __future__ import annotations

from minik8s.api.printing import autoscaling, cluster, config, pods, rbac, services, storage, workloads  # noqa: F401
from minik8s.api.printing.columns import GENERIC, TABLES, Column, KindTable, table_for

__all__ = ["GENERIC", "TABLES", "Column", "KindTable", "table_for"]
