"""gpuad.testing's own reporting: a failure names the worst mismatch, not the last one."""
import numpy as np

from gpuad.testing import _mismatch


def test_mismatch_reports_the_worst_leaf_not_the_last():
    want = [np.zeros(3), np.zeros(3)]
    got = [np.array([0.0, 5.0, 0.0]), np.array([0.0, 0.0, 1.0])]
    msg = _mismatch(got, want, 1e-6, 1e-6)
    assert "max |error| 5 at output 0 index (1,)" in msg, msg
    # and within one leaf, the largest error's index
    msg = _mismatch([np.array([1.0, 3.0, 2.0])], [np.zeros(3)], 1e-6, 1e-6)
    assert "index (1,)" in msg and "max |error| 3" in msg, msg
