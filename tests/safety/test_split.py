"""The split between training and judging is a pure function of the id."""

from __future__ import annotations

from psi.safety.split import group_key, held_out


def test_no_id_is_in_both_parts_and_versions_stay_together() -> None:
    ids = [f"bipia-train-table-{n}-{v}" for n in range(300) for v in ("clean", "start", "end")]
    ids += [f"jbb-p-{n}" for n in range(500)] + [f"xstest-{n}" for n in range(500)]
    parts = {row_id: held_out(row_id) for row_id in ids}
    assert all(held_out(row_id) == part for row_id, part in parts.items())  # deterministic
    by_group: dict[str, set[bool]] = {}
    for row_id, part in parts.items():
        by_group.setdefault(group_key(row_id), set()).add(part)
    assert all(len(parts_) == 1 for parts_ in by_group.values())
    share = sum(parts.values()) / len(parts)
    assert 0.2 < share < 0.4


def test_group_key_strips_only_the_version_suffix() -> None:
    assert group_key("bipia-train-email-7-clean") == group_key("bipia-train-email-7-middle")
    assert group_key("bipia-train-email-7-clean") != group_key("bipia-train-email-8-clean")
    assert group_key("xstest-12") == "xstest-12"
