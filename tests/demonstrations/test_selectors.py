"""Demonstration selectors."""

from __future__ import annotations

from promptsearch.tasks import Example


def test_leave_one_out_swaps_a_query_for_a_substitute_of_its_label() -> None:
    from promptsearch.demonstrations import LeaveOneOutSelector, selector_from_dict

    pool = [Example.create({"text": f"t{i}"}, "pos" if i % 2 else "neg", id=f"e{i}") for i in range(10)]
    demos = (pool[1], pool[2], pool[3])
    sel = LeaveOneOutSelector(demos, pool, seed=3)
    assert sel.select(pool[5]) == demos  # not a demonstration: the same prompt as at test time
    assert sel.select({"text": "new"}) == demos
    swapped = sel.select(pool[2])
    assert pool[2] not in swapped and swapped[0] == pool[1] and swapped[2] == pool[3]
    assert swapped[1].label == pool[2].label and swapped[1] not in demos  # same label, in place
    again = selector_from_dict(sel.to_dict())
    assert again.id == sel.id and again.select(pool[2]) == swapped
    assert LeaveOneOutSelector(demos, pool, seed=4).id != sel.id
