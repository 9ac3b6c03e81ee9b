"""Database maintenance: backups to the lake, restore checks, VACUUM (ANALYZE).

Run nightly by ``maintenance_dag`` and by hand with
``python -m dwh_pipelines.maintenance backup|restore-check DB|vacuum``.
"""

from dwh_pipelines.maintenance.backup import (
    VOLATILE_TABLES,
    BackupError,
    RestoreCheckError,
    apply_retention,
    backup_databases,
    latest_backup,
    list_backups,
    restore_check,
)
from dwh_pipelines.maintenance.pgtools import PgToolError
from dwh_pipelines.maintenance.vacuum import vacuum_analyze

__all__ = [
    "VOLATILE_TABLES",
    "BackupError",
    "PgToolError",
    "RestoreCheckError",
    "apply_retention",
    "backup_databases",
    "latest_backup",
    "list_backups",
    "restore_check",
    "vacuum_analyze",
]
