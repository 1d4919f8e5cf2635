"""The birthday-paradox support test on a real server: draws of flagged pairs, verdicts that
persist, an estimate that follows them, and what bad requests get."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from tests.server.conftest import Server


@pytest.fixture()
def api(server: Server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=180) as client:
        yield client


def draw(api: httpx.Client, run_id: str, **body) -> dict:
    r = api.post(f"/api/runs/{run_id}/support/draws", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_draw_flags_the_closest_pairs_first(api: httpx.Client, image_run: str) -> None:
    out = draw(api, image_run, s=30, seed=1, top=6)
    assert out["space"] == "mnist"  # digits: the MNIST feature net by default
    assert out["step"] == 4 and out["s"] == 30 and out["id"] == "4-30-1-ema-mnist"
    pairs = out["pairs"]
    assert [p["index"] for p in pairs] == list(range(6))
    distances = [p["distance"] for p in pairs]
    assert distances == sorted(distances) and distances[0] >= 0
    assert all(0 <= p["i"] < p["j"] < 30 for p in pairs)
    assert len({(p["i"], p["j"]) for p in pairs}) == 6
    assert all(p["image_i"].startswith("data:image/png;base64,") for p in pairs)
    assert all(p["verdict"] is None for p in pairs) and out["settled"] is None
    same = draw(api, image_run, s=30, seed=1, top=6)
    assert [(p["i"], p["j"]) for p in same["pairs"]] == [(p["i"], p["j"]) for p in pairs]
    critic = draw(api, image_run, s=30, seed=1, top=6, features="critic")
    assert critic["space"] == "critic" and critic["id"] == "4-30-1-ema-critic"


def test_verdicts_persist_and_drive_the_estimate(api: httpx.Client, server: Server,
                                                 image_run: str) -> None:
    base = f"/api/runs/{image_run}/support"
    ids = {}
    for s, seed in [(20, 10), (20, 11), (40, 12), (40, 13)]:
        ids[(s, seed)] = draw(api, image_run, s=s, seed=seed, top=3, features="pixel")["id"]
    before = api.get(base, params={"step": 4}).json()
    assert before["estimate"] is None  # nothing judged yet
    assert "image_i" not in before["draws"][0]["pairs"][0]

    def judge(key, verdicts):
        r = api.put(f"{base}/draws/{ids[key]}/verdicts",
                    json={"verdicts": {str(k): v for k, v in verdicts.items()}})
        assert r.status_code == 200, r.text
        return r.json()

    # at s=20 every flagged pair is different; at s=40 each draw holds a confirmed duplicate
    judge((20, 10), {0: False, 1: False, 2: False})
    judge((20, 11), {0: False, 1: False, 2: False})
    judge((40, 12), {1: True})
    out = judge((40, 13), {0: True, 2: False})
    assert out["draw"]["settled"] is True
    estimate = out["estimate"]
    assert estimate["smallest_s"] == 40
    assert estimate["support"] == pytest.approx(40 * 39 / (2 * math.log(2)))
    assert estimate["rates"] == {"20": 0.0, "40": 1.0}

    # persisted: a fresh GET, and the file beside the run
    again = api.get(base).json()
    assert again["estimate"] == estimate
    by_id = {d["id"]: d for d in again["draws"] if d["space"] == "pixel"}
    assert [p["verdict"] for p in by_id[ids[(40, 13)]]["pairs"]] == [True, None, False]
    saved = json.loads((server.data_dir / "runs" / image_run / "support" / "4.json").read_text())
    assert saved["draws"][ids[(40, 12)]]["pairs"][1]["verdict"] is True
    # drawing the same samples again keeps the verdicts
    redraw = draw(api, image_run, s=40, seed=12, top=3, features="pixel")
    assert [p["verdict"] for p in redraw["pairs"]] == [None, True, None]

    # taking the duplicates back: no duplicates up to s=40, support above s(s-1)/(2 ln 2)
    judge((40, 12), {0: False, 1: False, 2: False})
    out = judge((40, 13), {0: False, 1: False, 2: False})
    assert out["estimate"]["smallest_s"] is None and out["estimate"]["support"] is None
    assert out["estimate"]["lower_bound"] == pytest.approx(40 * 39 / (2 * math.log(2)))
    # one of two draws at s=20 with a duplicate: a rate of 1/2 counts as likely
    out = judge((20, 11), {2: True})
    assert out["estimate"]["smallest_s"] == 20
    rows = {r["s"]: r for r in out["by_s"]}
    assert rows[20] == {"s": 20, "draws": 2, "settled": 2, "duplicates": 1}
    assert rows[40] == {"s": 40, "draws": 2, "settled": 2, "duplicates": 0}
    # other draws of this checkpoint, never judged, do not count
    assert all(r["settled"] == 0 for s, r in rows.items() if s not in (20, 40))


def test_bad_requests(api: httpx.Client, image_run: str) -> None:
    url = f"/api/runs/{image_run}/support/draws"
    for field, value in [("s", 1), ("s", 5001), ("top", 0), ("top", 51)]:
        r = api.post(url, json={"s": 30, "top": 5, field: value})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", field]
    assert api.post(url, json={"s": 30, "features": "nope"}).status_code == 422
    assert api.post("/api/runs/0123456789ab/support/draws", json={"s": 30}).status_code == 404
    assert api.get("/api/runs/0123456789ab/support").status_code == 404
    assert api.post(url, json={"s": 30, "step": 999}).status_code == 404
    missing = api.put(f"{url}/4-30-999-ema-mnist/verdicts", json={"verdicts": {"0": True}})
    assert missing.status_code == 404
    made = draw(api, image_run, s=20, seed=5, top=2)
    far = api.put(f"{url}/{made['id']}/verdicts", json={"verdicts": {"7": True}})
    # a pair this draw does not have: the request does not fit the draw (409), naming the field
    assert far.status_code == 409 and far.json()["detail"].startswith("verdicts: no pair 7")
