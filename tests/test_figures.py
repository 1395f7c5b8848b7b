"""The figures' helpers: the Pareto front and the marker of each codec's origin."""

import sys
from pathlib import Path

from conftest import unavailable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def need_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        unavailable("matplotlib (benchmark extra) is not installed")


def test_pareto_front_keeps_the_undominated_points():
    need_matplotlib()
    from benchmarks.figures import pareto_front

    pts = [(1.0, 3.5), (2.0, 3.4), (2.0, 3.0), (0.5, 3.2), (10.0, 2.0), (5.0, 1.9)]
    assert pareto_front(pts) == [(1.0, 3.5), (2.0, 3.4), (10.0, 2.0)]


def test_ours_and_peers_get_different_markers():
    need_matplotlib()
    from benchmarks.figures import ORIGIN_STYLE, origin

    ours = origin({"family": "wavpack", "case": "wavpack-medium", "peer_of": ""})
    peer = origin({"family": "wavpack", "case": "peer:wavpack-numcodecs-medium", "peer_of": "wavpack-medium"})
    general = origin({"family": "blosc-zstd", "case": "blosc-zstd-medium-bit", "peer_of": ""})
    assert (ours, peer, general) == ("ours", "peer", "general")
    assert len({ORIGIN_STYLE[o]["marker"] for o in (ours, peer, general)}) == 3
