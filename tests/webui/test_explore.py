"""The latent explorer in a browser: images follow the sliders, directions, an interpolation
that plays and exports, nearest training images, saved directions, and the empty state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.webui.conftest import shot


def test_without_image_runs_the_page_says_how_to_get_one(page: Any) -> None:
    page.goto("/explore")
    empty = page.locator("#empty")
    empty.wait_for()
    assert "No image runs yet" in empty.inner_text()
    assert page.locator("#empty a[href='/runs/new']").count() == 1
    shot(page, "explore-empty")



def image_src(page: Any) -> str:
    return page.locator("#image").get_attribute("src") or ""


def wait_new_image(page: Any, old: str) -> str:
    page.wait_for_function(
        "old => { const s = document.querySelector('#image').getAttribute('src');"
        " return s && s.startsWith('data:image/png') && s !== old; }", arg=old)
    return image_src(page)


def test_a_slider_moves_the_image(page: Any, image_run: str) -> None:
    page.goto(f"/runs/{image_run}")  # opened from the run page's list of checkpoints
    page.locator("#checkpoints a", has_text="Explore").click()
    page.wait_for_url(f"**/explore?run={image_run}&step=4")
    first = wait_new_image(page, "")
    assert page.locator("#dims .slider").count() == 16  # z has 16 dimensions
    assert "round trip" in page.locator("#latency").inner_text()
    slider = page.locator("#dims input[type=range]").first
    slider.focus()
    page.keyboard.press("End")  # the keyboard works as well as a mouse: z[0] to +3
    moved = wait_new_image(page, first)
    assert moved != first
    # a seed typed in renders that seed's image; the same seed again gives the same image
    page.fill("#seed", "5")
    page.locator("#seed").dispatch_event("change")
    seeded = wait_new_image(page, moved)
    page.fill("#seed", "6")
    page.locator("#seed").dispatch_event("change")
    other = wait_new_image(page, seeded)
    page.fill("#seed", "5")
    page.locator("#seed").dispatch_event("change")
    assert wait_new_image(page, other) == seeded
    shot(page, "explore")


def test_directions_interpolation_and_export(page: Any, image_run: str,
                                            tmp_path: Path) -> None:
    page.goto(f"/explore?run={image_run}")
    start = wait_new_image(page, "")
    page.click("#compute")
    page.locator("#directions .slider").nth(7).wait_for()
    assert page.locator("#directions .slider").count() == 8
    direction = page.locator("#directions input[type=range]").first
    direction.fill("2.5")
    assert wait_new_image(page, start) != start

    page.fill("#save-name", "first pc")
    page.select_option("#save-which", "0")
    page.click("#save")
    page.locator("#saved .slider label", has_text="first pc").wait_for()

    page.fill("#key-seed", "1")
    page.click("#add-seed")
    page.click("#add-seed")  # seed 2
    page.click("#add-key")   # the current, edited latent
    assert page.locator("#keyframes li").count() == 3
    page.fill("#steps", "5")
    page.click("#interpolate")
    page.locator("#strip img").nth(8).wait_for()
    assert page.locator("#strip img").count() == 9

    page.click("#play")
    page.wait_for_function("document.querySelector('#image').dataset.frame === '3'")
    page.click("#play")  # pause
    assert page.locator("#image").get_attribute("data-frame") is None

    with page.expect_download() as download:
        page.click("#export-png")
    saved = tmp_path / "strip.png"
    download.value.save_as(saved)
    assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    shot(page, "explore-interpolation")


def test_nearest_training_images(page: Any, image_run: str) -> None:
    page.goto(f"/explore?run={image_run}")
    wait_new_image(page, "")
    page.click("#neighbours")
    page.locator("#neighbour-list figure").nth(8).wait_for()
    assert page.locator("#neighbour-list figure").count() == 9  # the query and 8 neighbours
    assert "Searched 256 training images" in page.locator("#neighbour-list").inner_text()
    shot(page, "explore-neighbours")
