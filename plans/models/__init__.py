"""Plans' models: the plan document (plan.py) and running it (execution.py)."""

from .document import DocumentText, DocumentVersion
from .execution import (
    AuditEvent,
    BackupRecord,
    ExecutionEvent,
    FollowUp,
    GateOverride,
    HistoryPurge,
    LogEntry,
    LogEntryRevision,
    ServerExecution,
    SignOff,
    TestRun,
)
from .plan import (
    ChecklistItem,
    Comment,
    MaintenanceWindow,
    Milestone,
    Plan,
    PlanReference,
    PlanRole,
    PlanStatusChange,
    Task,
    WindowServer,
)
from .schedule import Frequency, PlanOccurrence, PlanSchedule

__all__ = [
    "Frequency",
    "PlanOccurrence",
    "PlanSchedule",
    "AuditEvent",
    "BackupRecord",
    "ChecklistItem",
    "Comment",
    "DocumentText",
    "DocumentVersion",
    "ExecutionEvent",
    "FollowUp",
    "GateOverride",
    "HistoryPurge",
    "LogEntry",
    "LogEntryRevision",
    "MaintenanceWindow",
    "Milestone",
    "Plan",
    "PlanReference",
    "PlanRole",
    "PlanStatusChange",
    "ServerExecution",
    "SignOff",
    "Task",
    "TestRun",
    "WindowServer",
]
