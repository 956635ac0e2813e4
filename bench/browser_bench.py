"""The demo page drawing in the browser (onnxruntime-web, WebAssembly, one thread), measured in Debian's Chromium
against a real server on this machine:

    python -m bench.browser_bench                    # every MNIST generator, 20 runs a point
    python -m bench.browser_bench --models cgan-mnist --runs 5

For each model, from a fresh browser context (an empty cache):

- the page's weight: bytes transferred until the page draws in the browser (what went over the wire, gzip
  included), split into the page itself (HTML, CSS, JS, the first images' JSON), the runtime (/static/ort) and the
  model's ONNX file;
- the time to the first image (the first sample tile decoded; it comes from the server, with its latents) and to
  the page drawing in the browser (the runtime and the model loaded);
- the browser's time per image: the median (and the best) of ``--runs`` calls of the session on 1 and on 16 rows of
  latents, and the same through the page's own drawing (the session, then a PNG for each image): what one input
  event costs.

Figures depend on the machine and on what else runs on it; no test asserts them.
"""

from __future__ import annotations

import argparse
import os

from tests.server import running_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MODELS = ("gan-mnist", "dcgan-mnist", "cgan-mnist", "infogan-mnist")

# In the page: `runs` timed calls (after two to warm up) of the session alone and of the page's drawHere, for n rows.
TIMING = """async ([n, runs]) => {
    const m = model(), ort = await loadRuntime(), median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
    const rows = Array.from({ length: n }, (_, i) => ({
        z: Array.from({ length: m.z_dim }, (_, k) => Math.sin(i * 31 + k)), label: i % 10, category: i % 10,
        codes: Array.from({ length: m.num_continuous || 0 }, () => 0.5) }));
    const feeds = () => {
        const f = {};
        const floats = (k, get) => new ort.Tensor("float32", Float32Array.from(rows.flatMap(get)), k ? [n, k] : [n]);
        const ints = (get) => new ort.Tensor("int64", BigInt64Array.from(rows.map((r) => BigInt(get(r)))), [n]);
        const make = { z: () => floats(m.z_dim, (r) => r.z), labels: () => ints((r) => r.label),
            blend_labels: () => ints((r) => r.label), categories: () => ints((r) => r.category),
            blend_categories: () => ints((r) => r.category), codes: () => floats(m.num_continuous, (r) => r.codes),
            blend: () => floats(null, () => [0]) };
        for (const name of local.inputs) f[name] = make[name]();
        return f;
    };
    const time = async (fn) => {
        const took = [];
        for (let i = 0; i < runs + 2; i++) {
            const t = performance.now(); await fn(); if (i >= 2) took.push(performance.now() - t);
        }
        return [median(took), Math.min(...took)];
    };
    return { run: await time(() => local.session.run(feeds())), draw: await time(() => drawHere(rows)) };
}"""


def measure(browser, url: str, name: str, runs: int) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    urls: dict[str, str] = {}
    sent: dict[str, int] = {"page": 0, "runtime": 0, "model": 0}
    cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))

    def finished(event: dict) -> None:
        where = urls.get(event["requestId"], "")
        part = "runtime" if "/static/ort/" in where else "model" if where.endswith("/model.onnx") else "page"
        sent[part] += int(event["encodedDataLength"])

    cdp.on("Network.loadingFinished", finished)
    page.goto(f"{url}/#model={name}")
    page.wait_for_function("() => { const i = document.querySelector('#samples .tile img');"
                           " return i && i.complete && i.naturalWidth > 0; }", timeout=60_000)
    first = page.evaluate("performance.now()")
    page.wait_for_selector("#drawn-by[data-side=browser]", timeout=120_000)
    ready = page.evaluate("performance.now()")
    page.wait_for_timeout(300)  # the last loadingFinished events
    per = {n: page.evaluate(TIMING, [n, runs]) for n in (1, 16)}
    context.close()
    return {"name": name, "sent": dict(sent), "first_ms": first, "ready_ms": ready, "per": per}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--runs", type=int, default=20, help="timed calls per point (after two to warm up)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tests.helpers import CHECKPOINTS

    with running_server({"GAN_CHECKPOINT_DIR": CHECKPOINTS}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                                      "--disable-background-networking"])
        print(f"Chromium {browser.version}, onnxruntime-web (WebAssembly, 1 thread), server on this machine")
        print("ms per image: the median (the best) of the timed calls; 'first image' and 'in browser' from navigation")
        print(f"{'model':<15} {'page':>8} {'runtime':>8} {'model':>8} {'first image':>11} {'in browser':>10}  "
              f"{'run n=1':>13} {'run n=16':>13} {'draw n=1':>13} {'draw n=16':>13}")
        for name in args.models:
            r = measure(browser, url, name, args.runs)
            kb = {k: f"{v / 1e6:.2f} MB" for k, v in r["sent"].items()}
            cells = [f"{r['per'][n][kind][0] / n:.2f} ({r['per'][n][kind][1] / n:.2f})"
                     for kind in ("run", "draw") for n in (1, 16)]
            print(f"{name:<15} {kb['page']:>8} {kb['runtime']:>8} {kb['model']:>8} {r['first_ms']:>8.0f} ms "
                  f"{r['ready_ms']:>7.0f} ms  " + " ".join(f"{c:>13}" for c in cells))
        browser.close()


if __name__ == "__main__":
    main()
