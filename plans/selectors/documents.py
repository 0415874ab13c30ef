"""Reads of the plan's document versions: the list, one version, and a line diff
between any two. The plan comes from an access selector: every read here is
scoped to it."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from django.http import Http404

from plans.models import DocumentText, DocumentVersion, Plan


def document_text_or_404(name: str) -> DocumentText:
    if name not in DocumentText.values:
        raise Http404("Not a document text.")
    return DocumentText(name)


def document_versions(*, plan: Plan, field: str) -> list[DocumentVersion]:
    """Every saved version of the text, newest first, numbered from 1 (the oldest),
    with who saved it; without the texts themselves. One query."""
    rows = list(
        DocumentVersion.objects.filter(plan_id=plan.pk, field=field)
        .select_related("by")
        .only("id", "at", "plan_id", "field", "by__first_name", "by__last_name", "by__username")
        .order_by("-id")
    )
    for number, row in enumerate(reversed(rows), start=1):
        row.number = number
    return rows


def document_version_texts(*, plan: Plan, field: str, ids) -> dict[int, str]:
    """The texts of the versions `ids` of this plan's text (one query); a version of
    another plan or text is simply not found."""
    wanted = [int(i) for i in ids if str(i).isdecimal() and len(str(i)) < 12]
    return dict(
        DocumentVersion.objects.filter(plan_id=plan.pk, field=field, id__in=wanted).values_list(
            "id", "text"
        )
    )


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "del", "same", "gap" (lines left out between two hunks)
    text: str
    old_no: int | None = None
    new_no: int | None = None


def line_diff(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """A line diff of two texts (difflib), with `context` unchanged lines around
    each change and a gap marker where more were left out."""
    a, b = old.splitlines(), new.splitlines()
    out: list[DiffLine] = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(context):
        if out:
            out.append(DiffLine("gap", ""))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [DiffLine("same", a[i], i + 1, j1 + i - i1 + 1) for i in range(i1, i2)]
                continue
            out += [DiffLine("del", a[i], i + 1, None) for i in range(i1, i2)]
            out += [DiffLine("add", b[j], None, j + 1) for j in range(j1, j2)]
    return out
