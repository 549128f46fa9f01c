"""The browser's resumable uploader (static/js/media/upload.js): a chunk that fails on
the network is resent from the server's offset, progress reaches the total, and the
promise resolves to the ready media."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]

PASSWORD = "copper kettle winter 77"

# A noisy PNG made in the page (about 12 MB: bigger than one 8 MiB chunk), uploaded
# with uploadFile; every progress report is kept.
UPLOAD = """
async () => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 2000;
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(2000, 2000);
  for (let i = 0; i < pixels.data.length; i += 65536) {
    crypto.getRandomValues(pixels.data.subarray(i, i + 65536));
  }
  for (let i = 3; i < pixels.data.length; i += 4) pixels.data[i] = 255;
  context.putImageData(pixels, 0, 0);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const file = new File([blob], "noise.png", { type: "image/png" });
  const { uploadFile } = await import("/static/js/media/upload.js");
  const progress = [];
  const media = await uploadFile(file, {
    altText: "Static",
    onProgress: (sent, total) => progress.push([sent, total]),
  });
  return { media, progress, size: file.size };
}
"""


async def test_upload_resumes_after_a_failed_chunk(page: Any) -> None:
    await page.goto("/signup")
    await page.get_by_label("Username").fill("uploader_e2e")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("heading", name="Welcome, uploader_e2e")).to_be_visible()

    seen: list[str] = []
    dropped: list[str] = []

    async def flaky(route: Any) -> None:
        request = route.request
        offset = await request.header_value("upload-offset")
        seen.append(f"{request.method} {offset}")
        if request.method == "PATCH" and offset not in (None, "0") and not dropped:
            dropped.append(offset)
            await route.abort("connectionreset")  # the second chunk never arrives
            return
        await route.continue_()

    await page.route("**/api/v1/media/uploads/**", flaky)
    result = await page.evaluate(UPLOAD)

    media, progress, size = result["media"], result["progress"], result["size"]
    assert size > 8 * 1_048_576
    assert dropped, seen  # the failure really happened
    assert media["status"] == "ready"
    assert media["kind"] == "image"
    assert media["content_type"] == "image/png"
    assert media["alt_text"] == "Static"
    assert progress[-1] == [size, size]
    assert all(total == size for _, total in progress)
    # After the drop the uploader asked where to resume, then resent that chunk.
    after = seen[seen.index(f"PATCH {dropped[0]}") + 1 :]
    assert after[0] == "GET None"
    assert f"PATCH {dropped[0]}" in after
    served = await page.request.get(media["url"])
    assert served.status == 200
    assert served.headers["content-type"] == "image/png"
