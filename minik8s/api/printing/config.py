"""Rows of ConfigMaps and Secrets as kubectl prints them: how many keys each holds (and a Secret's type);
ServiceAccounts with how many Secrets they list."""
from __future__ import annotations

from minik8s.api import kinds

from minik8s.api.printing.cells import since
from minik8s.api.printing.columns import columns


@columns(kinds.CONFIG_MAP, "Name", "Data", "Age")
def _configmap_row(o, now):
    return [o.metadata.name, str(len(o.data) + len(o.binaryData)), since(o.metadata.creationTimestamp, now)]


@columns(kinds.SECRET, "Name", "Type", "Data", "Age")
def _secret_row(o, now):
    return [o.metadata.name, o.type, str(len(o.data)), since(o.metadata.creationTimestamp, now)]


@columns(kinds.SERVICE_ACCOUNT, "Name", "Secrets", "Age")
def _serviceaccount_row(o, now):
    return [o.metadata.name, str(len(o.secrets)), since(o.metadata.creationTimestamp, now)]
