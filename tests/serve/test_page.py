"""test_page.py — `xattn serve`'s page (GET /) in real headless Chromium driven by Selenium
(Debian chromium-driver + python3-selenium; run with /usr/bin/python3 by
tests/cli/test_serve_page.sh). A person's steps: type a prompt, press generate, see the image
change with the seed; click a word, see its map over the image, another word, another map; drag
a re-weight slider, see a new image; reload the address (the URL holds the state) and see the
same view; press "four seeds"; take a screenshot and look at it. Only 127.0.0.1 is loaded."""
import os
import struct
import sys
import time
import zlib

from serve_lib import TMP, Server, check, fail, finish, ok

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

P = "a red circle left of a blue square"
srv = Server()
base = f"http://127.0.0.1:{srv.port}/"

opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
          "--disable-extensions", "--disable-dev-shm-usage", "--window-size=1200,900",
          f"--user-data-dir={TMP}/profile", "--proxy-server=direct://", "--proxy-bypass-list=*"]:
    opts.add_argument(a)
binary = next((b for b in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] if os.path.exists(b)), None)
if binary:
    opts.binary_location = binary
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
driver.set_page_load_timeout(60)
wait = WebDriverWait(driver, 180, poll_frequency=0.1)
by_id = lambda i: driver.find_element(By.ID, i)  # noqa: E731


def generation():
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-generation"))


def wait_generation(n):
    wait.until(lambda d: generation() >= n and
               d.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "0")


def png_size_and_colours(png):
    """(width, height, distinct pixel values) of an 8-bit RGB/RGBA PNG (filter bytes counted
    as pixels too: enough to tell a blank screenshot from a picture)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", png[16:24])
    idat, at = b"", 8
    while at < len(png):
        n, = struct.unpack(">I", png[at:at + 4])
        if png[at + 4:at + 8] == b"IDAT":
            idat += png[at + 8:at + 8 + n]
        at += 12 + n
    raw = zlib.decompress(idat)
    return w, h, len(set(raw[i:i + 3] for i in range(0, min(len(raw), 400000), 3)))


try:
    driver.get(base)
    # the prompt list arrives from /xattn/v1/prompts and fills the prompt box
    wait.until(lambda d: d.find_element(By.ID, "prompt").get_attribute("value") != "")
    prompt = by_id("prompt")
    prompt.clear()
    prompt.send_keys(P)
    for i, v in [("steps", "4"), ("seed", "3")]:
        by_id(i).clear()
        by_id(i).send_keys(v)
    by_id("generate").click()
    wait_generation(1)
    src1 = by_id("image").get_attribute("src")
    check(src1.startswith("data:image/png;base64,") and by_id("error").text == "",
          "type a prompt, press generate: the image appears", by_id("error").text)
    words = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#words .word")]
    check(words == P.split(), "the prompt's words are buttons", words)
    check("4 steps (DDIM)" in by_id("caption").text and "sampler=" not in driver.current_url,
          "no sampler chosen: the model's (tiny-random's DDIM)", by_id("caption").text)
    names = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#sampler option")]
    check(names[0] == "the model's" and {"Euler a", "DPM++ 2M Karras", "UniPC", "DDIM"} <= set(names)
          and not any(n.endswith("Scheduler") or n == "euler_a" for n in names),
          "the sampler list: the server's samplers by the web UI's names", names)

    by_id("seed").clear()
    by_id("seed").send_keys("4")
    by_id("generate").click()
    wait_generation(2)
    src2 = by_id("image").get_attribute("src")
    check(src2 != src1, "another seed: the image changes")

    # a word's map over the image
    driver.find_element(By.CSS_SELECTOR, '#words .word[data-word="2"]').click()
    ov = by_id("overlay")
    circle = ov.get_attribute("src")
    check(ov.is_displayed() and circle.startswith("data:image/png") and by_id("current-word").text == "circle",
          "click a word: its map lies over the image", by_id("current-word").text)
    check("word=2" in driver.current_url, "the selected word is in the URL", driver.current_url)
    driver.find_element(By.CSS_SELECTOR, '#words .word[data-word="6"]').click()
    check(by_id("overlay").get_attribute("src") != circle and by_id("current-word").text == "blue",
          "another word: another map")

    # drag the re-weight slider of "red" with the mouse; on release the image regenerates
    slider = driver.find_element(By.CSS_SELECTOR, 'input.reweight[data-word="red"]')
    ActionChains(driver).click_and_hold(slider).move_by_offset(-slider.size["width"] // 2 + 2, 0) \
        .release().perform()
    wait_generation(3)
    src3 = by_id("image").get_attribute("src")
    val = driver.find_element(By.CSS_SELECTOR, 'input.reweight[data-word="red"]').get_attribute("value")
    check(float(val) < 1 and src3 != src2 and "rw=red" in driver.current_url,
          f"drag the 'red' slider to {val}: a new image from the same seed", driver.current_url)
    check(by_id("overlay").get_attribute("src") not in (None, "", circle),
          "the selected word's map follows the new image")

    # the step slider: maps summed over fewer steps (the image stays)
    driver.execute_script("const s = document.getElementById('step'); s.value = 2;"
                          "s.dispatchEvent(new Event('change'));")
    wait_generation(4)
    check(by_id("image").get_attribute("src") == src3 and "step=2" in driver.current_url,
          "the step slider regenerates the maps, not the image")

    # the URL holds the state: a fresh load of it shows the same image
    url = driver.current_url
    driver.get("about:blank")
    driver.get(url)
    wait_generation(1)
    check(by_id("image").get_attribute("src") == src3 and by_id("current-word").text == "blue",
          "reloading the URL reproduces the view (image, word)")

    # another sampler: the caption and the URL name it; the step slider counts its U-Net calls
    n = generation()
    driver.execute_script("const s = document.getElementById('sampler'); s.value = 'Heun';")
    by_id("generate").click()
    wait_generation(n + 1)
    check("(Heun)" in by_id("caption").text and "sampler=Heun" in driver.current_url
          and by_id("step").get_attribute("max") == "7" and "step=" not in driver.current_url,
          "choose 'Heun': drawn with it; the slider spans its 7 calls of 4 steps, from 'all'",
          (by_id("caption").text, driver.current_url, by_id("step").get_attribute("max")))

    # four seeds side by side
    by_id("four").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#seeds img.seed-image")) == 4
               and d.find_element(By.TAG_NAME, "body").get_attribute("data-busy") == "0")
    srcs = [i.get_attribute("src") for i in driver.find_elements(By.CSS_SELECTOR, "#seeds img.seed-image")]
    check(len(set(srcs)) == 4, "four seeds: four different images")

    # downloads: the PNG (with its metadata) and heatmaps.safetensors
    check(by_id("download-png").get_attribute("href").startswith("data:image/png;base64,")
          and by_id("download-heatmaps").get_attribute("download") == "heatmaps.safetensors",
          "download links for the PNG and heatmaps.safetensors")

    # nothing was loaded from anywhere but this server
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    foreign = [n for n in names if not n.startswith(base) and not n.startswith("data:")]
    check(not foreign, "the page loads nothing from elsewhere", foreign)

    # look at it: a screenshot of the window, and of the image under its map
    shot = os.path.join(TMP, "shot.png")
    driver.save_screenshot(shot)
    png = open(shot, "rb").read()
    w, h, colours = png_size_and_colours(png)
    check(w >= 800 and h >= 600 and colours > 50, f"screenshot {shot}: {w}x{h}, {colours} colours")
    view = by_id("view").screenshot_as_png
    vw, vh, vcolours = png_size_and_colours(view)
    check(vw == 256 and vh == 256 and vcolours > 20, f"the image with its map: {vw}x{vh}, {vcolours} colours")
    logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
    errors = [l for l in logs if l.get("level") == "SEVERE"]
    check(not errors, "no errors in the browser console", errors[:3])
except Exception as e:  # noqa: BLE001 - report and clean up
    fail(f"browser: {type(e).__name__}: {str(e)[:300]}")
finally:
    driver.quit()
    rc = srv.stop()
    check(rc == 0, "server exit 0 after SIGTERM", rc)
finish()
