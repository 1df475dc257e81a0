"""The drift alert: a week's misroute rate against the four weeks before, by a two-proportion z-test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from trustdesk.routing import analysis

END = datetime(2026, 3, 2, tzinfo=UTC)


def _weeks(*counts: tuple[int, int]) -> list[dict[str, object]]:
    return [{"from": END - timedelta(days=7 * (len(counts) - i)), "to": END - timedelta(days=7 * (len(counts) - i - 1)),
             "routed": n, "misrouted": x, "rate": x / n if n else None} for i, (n, x) in enumerate(counts)]


def test_a_significant_rise_alerts() -> None:
    # 10% misrouted for four weeks (40 of 400), then 20% (40 of 200): pooled 80/600, z = 0.1 / 0.02944 = 3.40.
    found = analysis.drift(_weeks((100, 10), (100, 10), (100, 10), (100, 10), (200, 40)))
    assert found is not None and found["alert"]
    assert (found["week_rate"], found["baseline_rate"], found["z"]) == (0.2, 0.1, 3.4)
    assert found["p_value"] < 0.001


def test_noise_and_small_rises_do_not_alert() -> None:
    small = analysis.drift(_weeks((100, 10), (100, 10), (100, 10), (100, 10), (20, 4)))  # 20% of 20: p ~ 0.08
    assert small is not None and not small["alert"]
    tiny = analysis.drift(_weeks((10_000, 1000), (10_000, 1000), (10_000, 1000), (10_000, 1000), (10_000, 1150)))
    assert tiny is not None and tiny["p_value"] < 0.01 and not tiny["alert"]  # significant, but under 2 points
    assert analysis.drift(_weeks((0, 0), (0, 0), (0, 0), (0, 0), (50, 5))) is None
