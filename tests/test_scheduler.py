"""The Revolve schedule: optimal counts, valid actions, agreement with checkpoint-schedules."""
import functools
import math

import pytest

import gpuad
from gpuad.checkpoint import Action


def T(l, s):
    """Griewank & Walther's minimal number of step evaluations, written out independently:
    t = min{t : C(s+t, s) >= l}, T = l + t*l - C(s+t, s+1)."""
    t = 0
    while math.comb(s + t, s) < l:
        t += 1
    return l + t * l - math.comb(s + t, s + 1)


@functools.lru_cache(maxsize=None)
def brute_force(n, s):
    """The optimum by dynamic programming over every first split (no closed form)."""
    if n == 1:
        return 1
    if s == 1:
        return n * (n + 1) // 2
    return min(m + brute_force(m, s) + brute_force(n - m, s - 1) for m in range(1, n))


TABLE = [(10, 2, 30), (100, 5, 416), (100, 10, 322), (1000, 10, 4636), (10000, 10, 67624)]


@pytest.mark.parametrize("l,s,expected", TABLE)
def test_reference_numbers(l, s, expected):
    assert T(l, s) == expected
    assert gpuad.revolve_schedule(l, s).evaluations == expected


@pytest.mark.parametrize("l", [1, 2, 3, 10, 57, 1000])
def test_store_all_is_2l_minus_1(l):
    for s in (l - 1, l, l + 5):
        if s >= 1:
            assert gpuad.revolve_schedule(l, s).evaluations == 2 * l - 1


def test_closed_form_is_the_optimum():
    # The closed form the scheduler is held to is the true optimum of the recursion.
    for n in range(1, 60):
        for s in range(1, 7):
            assert brute_force(n, s) == T(n, min(s, max(1, n - 1))), (n, s)


@pytest.mark.parametrize("l", list(range(1, 40)) + [64, 99, 100, 101, 255, 1000, 3000])
@pytest.mark.parametrize("s", [1, 2, 3, 4, 5, 8, 10, 20])
def test_counts_match_closed_form(l, s):
    assert gpuad.revolve_schedule(l, s).evaluations == T(l, min(s, max(1, l - 1)))


def simulate(l, s, actions):
    """Execute a schedule symbolically; return the number of step evaluations."""
    pos, slots, evals, next_rev, snaps_peak = 0, {}, 0, l - 1, 0
    for act in actions:
        if act.kind == "snapshot":
            assert 0 <= act.a < s and act.b == pos
            slots[act.a] = pos
            snaps_peak = max(snaps_peak, len(slots))
        elif act.kind == "restore":
            assert slots[act.a] == act.b
            pos = act.b
        elif act.kind == "advance":
            assert act.a == pos and act.b > act.a
            evals += act.b - act.a
            pos = act.b
        else:
            assert act.kind == "reverse" and act.a == pos == next_rev
            evals += 1
            next_rev -= 1
            pos = None               # the state after a reversal is not kept
    assert next_rev == -1, "every step reversed once, last to first"
    assert snaps_peak <= s
    return evals


@pytest.mark.parametrize("l,s", [(1, 1), (2, 1), (7, 1), (10, 2), (33, 3), (100, 5),
                                 (100, 10), (1000, 10), (500, 499), (12, 30)])
def test_schedule_is_valid(l, s):
    sch = gpuad.revolve_schedule(l, s)
    assert sch.actions[0] == Action("snapshot", 0, 0)
    assert sch.actions[sch.forward] == Action("reverse", l - 1)
    assert simulate(l, sch.snapshots, sch.actions) == sch.evaluations


def test_schedule_repr_and_errors():
    sch = gpuad.revolve_schedule(10, 2)
    assert [repr(a) for a in sch.actions[:5]] == [
        "snapshot 0 x0", "advance 0->6", "snapshot 1 x6", "advance 6->9", "reverse 9"]
    with pytest.raises(ValueError):
        gpuad.revolve_schedule(0, 3)
    with pytest.raises(ValueError):
        gpuad.revolve_schedule(10, 0)


# ------------------------------------------------------------------ checkpoint-schedules

def _theirs(l, s):
    cs = pytest.importorskip(
        "checkpoint_schedules",
        reason="checkpoint-schedules is not installed (pip install checkpoint-schedules, or "
               "the 'test' extra)")
    events = []
    for a in cs.MultistageCheckpointSchedule(l, s, 0):
        if isinstance(a, cs.EndReverse):
            break
        if isinstance(a, cs.Forward):
            if a.write_ics:
                events.append(("snapshot", a.n0))
            if a.write_adj_deps:
                assert a.n1 - a.n0 == 1
                events.append(("reverse", a.n0))
            else:
                events.append(("advance", a.n0, a.n1))
        elif isinstance(a, (cs.Copy, cs.Move)):
            events.append(("restore", a.n))
    return _merge(events)


def _ours(l, s):
    events = []
    for a in gpuad.revolve_schedule(l, s).actions:
        events.append({"snapshot": ("snapshot", a.b), "restore": ("restore", a.b),
                       "advance": ("advance", a.a, a.b), "reverse": ("reverse", a.a)}[a.kind])
    return _merge(events)


def _merge(events):
    # Both lists in one vocabulary: positions stored/restored, runs of advanced steps
    # (adjacent advances joined), reversed steps.
    out = []
    for e in events:
        if e[0] == "advance" and out and out[-1][0] == "advance" and out[-1][2] == e[1]:
            out[-1] = ("advance", out[-1][1], e[2])
        else:
            out.append(e)
    return out


def _evaluations(events):
    return sum(e[2] - e[1] if e[0] == "advance" else e[0] == "reverse" for e in events)


@functools.lru_cache(maxsize=None)
def _unique_optimum(n, s):
    """True when every split of the optimal recursion is forced (a single minimiser)."""
    s = min(s, max(1, n - 1))
    if n <= 1 or s == 1:
        return True
    costs = [m + T(m, s) + T(n - m, s - 1) for m in range(1, n)]
    best = [m for m, c in zip(range(1, n), costs) if c == min(costs)]
    return len(best) == 1 and _unique_optimum(n - best[0], s - 1) and \
        _unique_optimum(best[0], s)


@pytest.mark.parametrize("l,s", [(10, 2), (100, 5), (100, 10), (1000, 10), (57, 3),
                                 (200, 7), (10, 9), (3, 1)])
def test_same_count_as_checkpoint_schedules(l, s):
    theirs = _theirs(l, s)
    assert _evaluations(theirs) == gpuad.revolve_schedule(l, s).evaluations == T(l, s)
    # Both reverse the steps last to first and never store more than s states.
    assert [e[1] for e in theirs if e[0] == "reverse"] == list(range(l - 1, -1, -1))


def test_same_actions_as_checkpoint_schedules_where_the_optimum_is_unique():
    # Several first splits can be optimal; implementations break such ties differently.
    # Where the optimal schedule is unique (incl. s = 1 and storing every state), the
    # two action lists must be identical.
    cases = [(l, s) for l in range(2, 120) for s in range(1, 11) if _unique_optimum(l, s)]
    assert sum(1 < s < l - 1 for l, s in cases) >= 20   # not only the trivial cases
    for l, s in cases:
        assert _ours(l, s) == _theirs(l, s), (l, s)
    for l, s in [(30, 4), (77, 5)]:
        assert _evaluations(_ours(l, s)) == _evaluations(_theirs(l, s))
