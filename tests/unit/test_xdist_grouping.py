"""The suite's time budget rests on `--dist loadgroup` keeping each group on one worker (tests/conftest.py): one
Terraform apply per stack, one browser per module. A pytest or pytest-xdist release that stops the grouping
fails here, instead of silently doubling every shared fixture."""

from __future__ import annotations

import pytest

GROUP = "tests/unit/test_xdist_grouping.py"


def test_each_test_is_marked_with_its_group(request: pytest.FixtureRequest) -> None:
    assert [mark.args[0] for mark in request.node.iter_markers("xdist_group")] == [GROUP]


def test_under_loadgroup_the_scheduler_sees_the_group(request: pytest.FixtureRequest) -> None:
    # A worker sees `--dist` as "no"; xdist tells it to group through this option instead.
    if not getattr(request.config.option, "loadgroup", False):
        return  # a plain `pytest` run, or another --dist mode: no groups to keep
    # xdist groups by the node id's "@group" suffix, which it adds in its own collection hook.
    assert request.node.nodeid.endswith(f"@{GROUP}"), (
        f"{request.node.nodeid!r} has no @group suffix: pytest-xdist no longer groups (pytest {pytest.__version__})")
