"use strict";
// GAN Studio demo page: plain JavaScript over the app's own API (no external requests).

const $ = (id) => document.getElementById(id);
const state = {
  models: [], model: null, pool: [], target: "A",
  picks: { A: [], B: [], C: [], I: [] }, category: 0, codes: [],
  live: { busy: false, pending: false, url: null }, anim: { timer: null, frames: [], i: 0, dir: 1 },
};

// ---- API helpers ---------------------------------------------------------------------------------
function detailText(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".") || "request"}: ${d.msg}`).join("; ");
  }
  return JSON.stringify(detail);
}

// With GAN_API_KEYS set on the server, a 401 asks for a key once; it is kept in localStorage.
const KEY_STORE = "gan-studio-api-key";
let keyPrompt = null;

function askForKey() {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const dialog = $("key-dialog");
    $("key-form").onsubmit = () => {
      localStorage.setItem(KEY_STORE, $("key-input").value.trim());
      keyPrompt = null;
      resolve();
    };
    dialog.showModal();
    $("key-input").focus();
  });
  return keyPrompt;
}

function withKey(options) {
  const key = localStorage.getItem(KEY_STORE);
  if (!key) return options;
  return { ...options, headers: { ...(options.headers || {}), authorization: `Bearer ${key}` } };
}

async function request(path, options = {}) {
  let response = await fetch(path, withKey(options));
  for (let tries = 0; response.status === 401 && tries < 3; tries++) {
    await askForKey();
    response = await fetch(path, withKey(options));
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = `${response.status}: ${detailText((await response.json()).detail)}`; } catch (_) { /* not JSON */ }
    const id = response.headers.get("x-request-id");
    if (id) message += ` (request ${id})`;  // the server's log lines for it carry this id
    throw new Error(message);
  }
  return response;
}

async function postJSON(path, body) {
  const started = performance.now();
  const response = await request(path, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await response.json();
  data.clientMs = performance.now() - started;
  return data;
}

function showError(error) {
  const box = $("error");
  box.textContent = error instanceof Error ? error.message : String(error);
  box.hidden = false;
}
function clearError() { $("error").hidden = true; $("error").textContent = ""; }

async function guarded(fn) {
  try { clearError(); await fn(); } catch (error) { showError(error); }
}

const pngURL = (b64) => `data:image/png;base64,${b64}`;
const ms = (t) => `${Math.round(t)} ms`;
const model = () => state.model;
const seedValue = () => Math.max(0, Math.floor(Number($("seed").value) || 0));

function conditioningOf(info) {
  const c = {};
  if (info.label !== undefined) c.label = info.label;
  if (info.category !== undefined) c.category = info.category;
  if (info.codes !== undefined) c.codes = info.codes;
  return c;
}

// PNG enlargement for links and the lightbox: about 280 pixels whatever the model's size (10x for 28, 4x for 64)
const linkScale = () => Math.max(1, Math.round(280 / (model().image_size || 28)));

function sampleLink(info, scale = linkScale()) {
  const params = new URLSearchParams({ seed: info.seed, scale });
  if (info.label !== undefined) params.set("label", info.label);
  if (info.category !== undefined) params.set("category", info.category);
  if (info.codes !== undefined) params.set("codes", info.codes.join(","));
  return `/models/${encodeURIComponent(model().name)}/sample.png?${params}`;
}

const className = (d) => (model().class_names ? model().class_names[d] : null);

function describe(info) {
  const parts = [`seed ${info.seed}`];
  if (info.label !== undefined) parts.push(className(info.label) ?? `digit ${info.label}`);
  if (info.category !== undefined) parts.push(`cat ${info.category}`);
  return parts.join(", ");
}

// ---- drawing in the browser: onnxruntime-web (WebAssembly) runs the model's ONNX graph ------------------------
// Where WebAssembly exists and the server has the runtime's files (scripts/install.sh copies them with npm), the page
// loads onnxruntime-web and GET /models/NAME/model.onnx; a seed's latents come from the server once (/generate with
// return_latents), and from then on labels, categories, codes and the interpolation's t are drawn here, with no
// request. Anywhere else, or when loading fails, every image comes from the server as before.
const local = {
  runtime: null, runtimeFailed: false,  // the promise of the ort module, made once
  session: null, name: null, version: null, inputs: [],  // the loaded model's session and its graph's inputs
  loading: null, why: null,  // why the page draws on the server (null: it does not, or not yet known)
  latents: new Map(),  // "model@version:seed" -> { z, label, category, codes }, from the server's JSON
  queue: Promise.resolve(), canvas: null,
};
const LATENTS_KEPT = 4096;

function runtimeFiles() {
  const d = $("ort-files").dataset;
  return d.runtime && d.loader && d.wasm ? { runtime: d.runtime, loader: d.loader, wasm: d.wasm } : null;
}

// Whether this page may draw here at all (then its requests ask for latents along with the images).
const canDrawHere = () => typeof WebAssembly === "object" && runtimeFiles() !== null && !local.runtimeFailed;
const drawsHere = () => local.session !== null && model() && local.name === model().name
  && local.version === model().version;

function showSide() {
  const el = $("drawn-by");
  if (drawsHere()) {
    el.dataset.side = "browser";
    el.textContent = "Images drawn in your browser (WebAssembly)";
  } else if (local.loading) {
    el.dataset.side = "loading";
    el.textContent = "Images drawn by the server while the browser runtime loads";
  } else {
    el.dataset.side = "server";
    el.textContent = `Images drawn by the server${local.why ? ` (${local.why})` : ""}`;
  }
}

function loadRuntime() {
  if (!local.runtime) {
    const files = runtimeFiles();
    local.runtime = import(files.runtime).then((ort) => {
      ort.env.wasm.numThreads = 1;  // the graphs are small: no pthread workers besides the one below
      // A worker of the runtime's own (a module worker from its same-origin URL, allowed by script-src 'self') compiles
      // the 14 MB of WebAssembly, loads the graph and runs it: the page's main thread stays free (about 1.5 s of it on a
      // slow phone otherwise).
      ort.env.wasm.proxy = true;
      const url = (path) => new URL(path, location.href).href;
      ort.env.wasm.wasmPaths = { mjs: url(files.loader), wasm: url(files.wasm) };  // the app's own, versioned
      return ort;
    });
    local.runtime.catch(() => { local.runtimeFailed = true; });
  }
  return local.runtime;
}

// Resolves when the browser has nothing else to do (2 s at most), or soon where requestIdleCallback is missing (Safari).
const idle = () => new Promise((resolve) => (window.requestIdleCallback
  ? requestIdleCallback(() => resolve(), { timeout: 2000 }) : setTimeout(resolve, 50)));

// The selected model's graph, loaded once `ready` (its first images, from the server) and the page is idle: the
// runtime's download and start-up never delay those images. A model picked meanwhile wins.
async function prepareLocal(m, ready = Promise.resolve()) {
  const old = local.session;
  if (old) local.queue = local.queue.then(() => old.release());  // after the draws queued on it
  Object.assign(local, { session: null, name: null, version: null });
  if (typeof WebAssembly !== "object") local.why = "this browser has no WebAssembly";
  else if (!runtimeFiles()) local.why = "the server has no browser runtime installed";
  if (!canDrawHere()) { local.loading = null; showSide(); return; }
  const loading = (async () => {
    await ready.catch(() => {}).then(idle);
    if (local.loading !== loading) return null;  // another model was picked meanwhile: load nothing for this one
    const ort = await loadRuntime();
    const response = await request(`/models/${encodeURIComponent(m.name)}/model.onnx`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    return { session, version: response.headers.get("x-model-version") };
  })();
  local.loading = loading;
  showSide();
  try {
    const loaded = await loading;
    if (!loaded) return;
    const { session, version } = loaded;
    if (local.loading !== loading || model() !== m) { session.release(); return; }  // another model was picked
    if (version && version !== m.version) throw new Error(`the server sent version ${version}, not ${m.version}`);
    Object.assign(local, { session, name: m.name, version: m.version, inputs: session.inputNames, why: null });
  } catch (error) {
    if (local.loading !== loading) return;
    local.why = `the browser runtime failed: ${error.message || error}`;
    console.warn("GAN Studio draws on the server:", error);
  } finally {
    if (local.loading === loading) local.loading = null;
    showSide();
  }
}

const latentKey = (seed, name = model().name, version = model().version) => `${name}@${version}:${seed}`;

// What a /generate answer told of each seed, under the model and version that answered (another may be selected now).
function keepLatents(answer) {
  if (local.latents.size > LATENTS_KEPT) local.latents.clear();
  for (const img of answer.images) {
    if (img.z !== undefined && img.seed !== undefined) {
      local.latents.set(latentKey(img.seed, answer.model, answer.model_version),
        { z: img.z, label: img.label, category: img.category, codes: img.codes });
    }
  }
}

const knownLatents = (seeds) => seeds.every((s) => local.latents.has(latentKey(s)));

// A seed's latents: from what the server told already, else one /generate (json, return_latents) for those missing.
async function seedLatents(seeds) {
  const missing = [...new Set(seeds.filter((s) => !local.latents.has(latentKey(s))))];
  if (missing.length) {
    const data = await postJSON("/generate", { model: model().name, seeds: missing, n: missing.length, format: "json",
      return_latents: true });
    keepLatents(data);
  }
  return seeds.map((s) => local.latents.get(latentKey(s)));
}

function pngOf(pixels, offset, h, w, c) {
  const canvas = local.canvas || (local.canvas = document.createElement("canvas"));
  canvas.width = w; canvas.height = h;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(w, h);
  for (let p = 0; p < h * w; p++) {
    const s = offset + p * c;
    image.data[4 * p] = pixels[s];
    image.data[4 * p + 1] = pixels[s + (c > 1 ? 1 : 0)];
    image.data[4 * p + 2] = pixels[s + (c > 1 ? 2 : 0)];
    image.data[4 * p + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
  return canvas.toDataURL("image/png").slice("data:image/png;base64,".length);
}

// Rows of { z, label, blendLabel, category, blendCategory, codes, blend } through the graph (models/onnx.py's
// inputs), one run at a time; base64 PNGs back, as the server's JSON has them.
function drawHere(rows) {
  const run = async () => {
    const ort = await loadRuntime(), session = local.session;
    if (!session) throw new Error("no model is loaded in the browser");
    const m = model(), n = rows.length, feeds = {};
    const floats = (k, get) => new ort.Tensor("float32", Float32Array.from(rows.flatMap(get)), k ? [n, k] : [n]);
    const ints = (get) => new ort.Tensor("int64", BigInt64Array.from(rows.map((r) => BigInt(get(r)))), [n]);
    const make = {
      z: () => floats(m.z_dim, (r) => r.z),
      labels: () => ints((r) => r.label),
      blend_labels: () => ints((r) => r.blendLabel ?? r.label),
      categories: () => ints((r) => r.category),
      blend_categories: () => ints((r) => r.blendCategory ?? r.category),
      codes: () => floats(m.num_continuous, (r) => r.codes),
      blend: () => floats(null, (r) => [r.blend ?? 0]),
    };
    for (const name of local.inputs) feeds[name] = make[name]();
    const out = (await session.run(feeds)).images;
    const [, h, w, c] = out.dims, size = h * w * c;
    return rows.map((_, i) => pngOf(out.data, i * size, h, w, c));
  };
  const done = local.queue.then(run);
  local.queue = done.catch(() => {});
  return done;
}

// A local draw that fails sends this model back to the server (and says why); the caller then asks the server.
function giveUpLocal(error) {
  console.warn("GAN Studio draws on the server:", error);
  const old = local.session;
  if (old) local.queue = local.queue.then(() => old.release());
  local.session = null;
  local.why = `drawing in the browser failed: ${error.message || error}`;
  showSide();
}

// models/sampling.py's interpolation at one t: z by slerp (in float64, then float32) or lerp (float32), codes
// linearly, the labels or categories blended from a's toward b's by t, the end frames exactly a's and b's.
const f32 = Math.fround;

function slerp(a, b, t) {
  let dot = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  const cos = dot / Math.max(Math.sqrt(aa) * Math.sqrt(bb), 1e-12);
  const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
  if (Math.abs(omega) < 1e-4) return a.map((x, i) => (1 - t) * x + t * b[i]);
  return a.map((x, i) => (Math.sin((1 - t) * omega) * x + Math.sin(t * omega) * b[i]) / Math.sin(omega));
}

const lerp = (a, b, t) => a.map((x, i) => f32(f32(f32(1 - t) * x) + f32(t * b[i])));

function interpolatedRow(a, b, t, method) {
  t = f32(t);  // torch.linspace's float32 t
  let z = method === "slerp" ? slerp(a.z, b.z, t) : lerp(a.z, b.z, t);
  if (t === 0) z = a.z; else if (t === 1) z = b.z;
  const row = { z, blend: t };
  if (a.label !== undefined) Object.assign(row, { label: a.label, blendLabel: b.label });
  if (a.category !== undefined) Object.assign(row, { category: a.category, blendCategory: b.category });
  if (a.codes !== undefined) row.codes = lerp(a.codes, b.codes, t);
  return row;
}

// ---- model picker and card -----------------------------------------------------------------------
const fmt = (v, digits = 3) => (typeof v === "number" ? Number(v.toFixed(digits)).toString() : v);

function renderCard(card) {
  const m = card.metrics || {};
  const rows = [
    ["Family", card.family.toUpperCase()],
    ["Dataset", card.dataset],
    ["Image", `${card.image_size}×${card.image_size}, ${card.channels} channel(s); z has ${card.z_dim} values`],
  ];
  const named = Boolean(card.class_names);
  if (card.num_classes) rows.push(["Labels", named ? card.class_names.join(", ") : `${card.num_classes} digits`]);
  if (card.num_categories) rows.push(["Codes", `${card.num_categories} categories, ${card.num_continuous} continuous`]);
  if (card.epochs) rows.push(["Training", `${card.epochs} epochs, ${card.steps} steps, ${fmt(card.training_time_s, 0)} s on ${card.training_device}`]);
  if (m.frechet_distance !== undefined) rows.push(["Fréchet distance", `${fmt(m.frechet_distance)} (real vs real: ${fmt(m.frechet_distance_real_vs_real)})`]);
  if (m.confident_share !== undefined) rows.push([named ? "Clear images" : "Clear digits", `${fmt(m.confident_share * 100, 1)}% (real: ${fmt(m.confident_share_real * 100, 1)}%)`]);
  if (m.digit_share_min !== undefined) rows.push([named ? "Class shares" : "Digit shares", `${fmt(m.digit_share_min * 100, 1)}% to ${fmt(m.digit_share_max * 100, 1)}%`]);
  if (m.label_accuracy !== undefined) rows.push(["Label accuracy", `${fmt(m.label_accuracy * 100, 1)}%`]);
  if (m.category_accuracy !== undefined) rows.push(["Category accuracy", `${fmt(m.category_accuracy * 100, 1)}% (category → digit: ${m.category_to_digit.join(" ")})`]);
  const dl = $("card");
  dl.replaceChildren();
  for (const [k, v] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    dl.append(dt, dd);
  }
  $("card-title").textContent = card.name;
}

async function loadModels() {
  state.models = await (await request("/models")).json();
  const select = $("model");
  select.replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.family})`, m.name)));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("model");
  const initial = state.models.find((m) => m.name === wanted) || state.models.find((m) => m.name === "dcgan-mnist") || state.models.find((m) => m.family === "dcgan") || state.models[0];
  if (!initial) throw new Error("no models are loaded on the server");
  select.value = initial.name;
  setUpPad();
  await selectModel(initial.name);
}

async function selectModel(name) {
  state.model = state.models.find((m) => m.name === name);
  history.replaceState(null, "", `#model=${encodeURIComponent(name)}`);
  // tiles at a whole multiple of the model's pixels: 28-pixel digits at 4x, 64-pixel emoji at 2x
  const size = state.model.image_size || 28;
  const tile = size * Math.max(1, Math.round(112 / size));
  document.documentElement.style.setProperty("--tile", `${tile}px`);
  // grid cells wide enough for a whole tile from 64 pixels up (digits keep their denser grid)
  document.documentElement.style.setProperty("--cell", size >= 64 ? `${tile + 12}px` : "84px");
  renderCard(state.model);
  buildDigitButtons();
  buildInfoganControls();
  resetPicks();
  const firstImages = (async () => {  // from the server, with their latents
    await generateSamples();
    await newPool();
    if (state.model.num_categories) await liveUpdate();
  })();
  prepareLocal(state.model, firstImages);
  await firstImages;
}

// ---- samples --------------------------------------------------------------------------------------
function tile(info, b64, onClick, label) {
  const div = document.createElement("div");
  div.className = "tile";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "open";
  button.setAttribute("aria-label", label || `Open sample, ${describe(info)}`);
  const img = document.createElement("img");
  img.src = pngURL(b64);
  img.alt = `Sample, ${describe(info)}`;
  button.append(img);
  button.addEventListener("click", onClick);
  div.append(button);
  return div;
}

function sampleTile(info) {
  const div = tile(info, info.png, () => openLightbox(info));
  const meta = document.createElement("div");
  meta.className = "meta";
  const text = document.createElement("span");
  text.textContent = info.label !== undefined ? `${info.seed} · ${className(info.label) ?? info.label}` : `${info.seed}`;
  const download = document.createElement("a");
  download.href = pngURL(info.png);
  download.download = `${model().name}-seed${info.seed}.png`;
  download.textContent = "⬇";
  download.title = `Download seed ${info.seed}`;
  download.setAttribute("aria-label", `Download sample, ${describe(info)}`);
  meta.append(text, download);
  div.append(meta);
  return div;
}

// The grid: drawn here when every seed's latents are known (a label or "all digits" after the first answer), else by
// the server, whose JSON then carries the latents (return_latents) for the next time.
async function generateSamples(extra = {}) {
  const n = extra.seeds ? extra.seeds.length : Number($("count").value);
  const seeds = extra.seeds || Array.from({ length: n }, (_, i) => seedValue() + i);
  let images = null, timing = "";
  if (drawsHere() && knownLatents(seeds)) {
    const started = performance.now();
    const rows = seeds.map((s, i) => {
      const known = local.latents.get(latentKey(s));
      return { ...known, label: extra.labels ? extra.labels[i] : extra.label ?? known.label };
    });
    try {
      const pngs = await drawHere(rows);
      images = rows.map((r, i) => ({ seed: seeds[i], ...conditioningOf(r), png: pngs[i] }));
      timing = `${n} images drawn in your browser in ${ms(performance.now() - started)}`;
    } catch (error) {
      giveUpLocal(error);
    }
  }
  if (!images) {
    const body = { model: model().name, seed: seedValue(), n, format: "json", ...extra };
    if (body.seeds) delete body.seed;
    if (canDrawHere()) body.return_latents = true;
    const data = await postJSON("/generate", body);
    keepLatents(data);
    images = data.images;
    timing = `${images.length} images drawn by the server in ${ms(data.clientMs)} (server ${ms(data.elapsed_ms)})`;
  }
  const grid = $("samples");
  grid.style.gridTemplateColumns = extra.columns ? `repeat(${extra.columns}, minmax(0, 1fr))` : "";
  grid.replaceChildren(...images.map(sampleTile));
  $("samples-time").textContent = timing;
}

function openLightbox(info) {
  $("lightbox-image").src = pngURL(info.png);
  $("lightbox-title").textContent = `${model().name}, ${describe(info)}`;
  $("lightbox-link").href = sampleLink(info);
  $("lightbox-download").href = pngURL(info.png);
  $("lightbox-download").download = `${model().name}-seed${info.seed}.png`;
  $("lightbox").showModal();
}

function buildDigitButtons() {
  const show = Boolean(model().num_classes);
  const named = Boolean(model().class_names);
  $("digits").hidden = !show;
  $("digits-title").textContent = named ? "Class:" : "Digit:";
  $("all-digits").textContent = named ? "All classes" : "All digits";
  const holder = $("digit-buttons");
  holder.replaceChildren();
  if (!show) return;
  for (let d = 0; d < model().num_classes; d++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = named ? className(d) : d;
    b.className = named ? "digit named" : "digit";
    b.setAttribute("aria-label", named ? `Class ${className(d)}` : `Digit ${d}`);
    b.setAttribute("aria-pressed", "false");
    b.addEventListener("click", () => guarded(async () => {
      for (const other of holder.children) other.setAttribute("aria-pressed", String(other === b));
      await generateSamples({ label: d });
    }));
    holder.append(b);
  }
}

async function allDigits() {
  const rows = 4, k = model().num_classes, seed = seedValue();
  const seeds = [], labels = [];
  for (let r = 0; r < rows; r++) for (let d = 0; d < k; d++) { seeds.push(seed + r); labels.push(d); }
  await generateSamples({ seeds, labels, n: seeds.length, columns: k });
}

// ---- latent arithmetic and interpolation ----------------------------------------------------------
async function newPool() {
  const data = await postJSON("/generate", { model: model().name, seed: seedValue() + 1000, n: 24, format: "json",
    ...(canDrawHere() ? { return_latents: true } : {}) });
  keepLatents(data);
  state.pool = data.images;
  renderPool();
}

function renderPool() {
  if (!state.pool.length) return;  // the page's placeholders until the first pool comes
  const grid = $("pool");
  grid.replaceChildren(...state.pool.map((info) => {
    const t = tile(info, info.png, () => pick(info), `Add sample ${describe(info)} to ${state.target === "I" ? "the interpolation ends" : state.target}`);
    for (const g of ["A", "B", "C", "I"]) if (state.picks[g].some((p) => p.seed === info.seed)) t.classList.add(`picked-${g}`);
    return t;
  }));
}

function pick(info) {
  const group = state.picks[state.target];
  const limit = state.target === "I" ? 2 : 3;
  if (group.some((p) => p.seed === info.seed)) return;
  group.push(info);
  if (group.length > limit) group.shift();
  renderPicks();
}

function renderPicks() {
  for (const g of ["A", "B", "C"]) {
    $(`group-${g}`).querySelector(".picked").replaceChildren(...state.picks[g].map(pickedImage));
  }
  $("interp-ends").replaceChildren(...state.picks.I.map(pickedImage));
  $("arith-run").disabled = !["A", "B", "C"].every((g) => state.picks[g].length > 0);
  $("interp-run").disabled = $("interp-t").disabled = state.picks.I.length !== 2;
  if (state.picks.I.length !== 2) {
    $("interp-frame").hidden = true;
    $("interp-frame-time").textContent = "";
  } else if (drawsHere()) {
    scrub();
  }
  renderPool();
}

function pickedImage(info) {
  const img = document.createElement("img");
  img.src = pngURL(info.png);
  img.alt = `Picked ${describe(info)}`;
  return img;
}

function resetPicks() {
  state.picks = { A: [], B: [], C: [], I: [] };
  $("arith-result").replaceChildren();
  $("interp-strip").replaceChildren();
  stopAnimation();
  $("interp-anim").hidden = $("interp-play").hidden = true;
  $("arith-time").textContent = $("interp-time").textContent = "";
  renderPicks();
}

function setTarget(target) {
  state.target = target;
  for (const b of document.querySelectorAll("button.target")) b.setAttribute("aria-pressed", String(b.dataset.target === target));
  renderPool();
}

async function runArithmetic() {
  const terms = ["A", "B", "C"].map((g) => ({
    seeds: state.picks[g].map((p) => p.seed), weight: Number($(`weight-${g}`).value) || 0,
  }));
  const body = { model: model().name, terms, neighbors: 8, format: "json", seed: seedValue(),
    ...conditioningOf(state.picks.A[0]) };
  const data = await postJSON("/latent/arithmetic", body);
  const img = (b64, alt, cls = "") => {
    const el = document.createElement("img");
    el.src = pngURL(b64); el.alt = alt; if (cls) el.className = cls;
    return el;
  };
  const sign = (w, first) => (first ? (w < 0 ? "−" : "") : (w < 0 ? "−" : "+")) + (Math.abs(w) !== 1 ? ` ${Math.abs(w)}×` : "");
  const equation = document.createElement("div");
  equation.className = "equation";
  data.terms.forEach((t, i) => {
    const s = document.createElement("span"); s.textContent = sign(t.weight, i === 0);
    equation.append(s, img(t.png, `Mean of ${["A", "B", "C"][i]}`));
  });
  const eq = document.createElement("span"); eq.textContent = "=";
  equation.append(eq);
  const neighbors = document.createElement("div");
  neighbors.className = "neighbors";
  const [result, ...others] = data.images;
  const cells = [...others.slice(0, 4), null, ...others.slice(4)];
  for (const c of cells) neighbors.append(c ? img(c.png, "Neighbour of the result") : img(result.png, "Result A − B + C", "center"));
  $("arith-result").replaceChildren(equation, neighbors);
  $("arith-time").textContent = `in ${ms(data.clientMs)}`;
}

function stopAnimation() {
  clearInterval(state.anim.timer);
  state.anim.timer = null;
  $("interp-play").textContent = "Play";
}

function startAnimation() {
  stopAnimation();
  const a = state.anim;
  a.timer = setInterval(() => {
    if (a.frames.length < 2) return;
    a.i += a.dir;
    if (a.i <= 0 || a.i >= a.frames.length - 1) a.dir = -a.dir;
    a.i = Math.max(0, Math.min(a.frames.length - 1, a.i));
    $("interp-anim").src = pngURL(a.frames[a.i]);
  }, 120);
  $("interp-play").textContent = "Pause";
}

async function runInterpolation() {
  const [start, end] = state.picks.I;
  const steps = Math.min(64, Math.max(2, Number($("interp-steps").value) || 10));
  const body = { model: model().name, start: { seed: start.seed }, end: { seed: end.seed }, steps,
    method: $("interp-method").value, format: "json" };
  const data = await postJSON("/latent/interpolate", body);
  state.anim.key = interpolationKey();
  $("interp-strip").replaceChildren(...data.images.map((f) => {
    const el = document.createElement("img");
    el.src = pngURL(f.png); el.alt = `Frame t=${f.t}`;
    return el;
  }));
  state.anim.frames = data.images.map((f) => f.png);
  state.anim.i = 0; state.anim.dir = 1;
  $("interp-anim").src = pngURL(state.anim.frames[0]);
  $("interp-anim").hidden = $("interp-play").hidden = false;
  startAnimation();
  $("interp-time").textContent = `${steps} frames in ${ms(data.clientMs)}`;
}

// The slider t between the two ends: drawn here on every input event (models/sampling.py's interpolation at that t),
// or on the server's side the strip's nearest frame (the strip asked for first when it is not these ends').
const interpolationKey = () => [model().name, ...state.picks.I.map((p) => p.seed), $("interp-method").value,
  $("interp-steps").value].join(",");
const scrubbing = { busy: false, pending: false };

async function scrub() {
  if (scrubbing.busy) { scrubbing.pending = true; return; }  // one at a time; the latest position wins
  scrubbing.busy = true;
  try {
    await drawScrub();
  } catch (error) {
    showError(error);
  } finally {
    scrubbing.busy = false;
    if (scrubbing.pending) { scrubbing.pending = false; scrub(); }
  }
}

async function drawScrub() {
  const t = Number($("interp-t").value), [a, b] = state.picks.I;
  $("interp-t-value").textContent = t.toFixed(2);
  if (!a || !b) return;
  const frame = $("interp-frame"), started = performance.now();
  if (drawsHere() && a.z && b.z) {
    try {
      const [png] = await drawHere([interpolatedRow(a, b, t, $("interp-method").value)]);
      frame.src = pngURL(png);
      frame.hidden = false;
      const took = ms(performance.now() - started);
      $("interp-frame-time").textContent = `t = ${t.toFixed(2)}, drawn in your browser in ${took}`;
      return;
    } catch (error) {
      giveUpLocal(error);
    }
  }
  if (state.anim.key !== interpolationKey() || !state.anim.frames.length) await runInterpolation();
  const frames = state.anim.frames, k = Math.round(t * (frames.length - 1));
  frame.src = pngURL(frames[k]);
  frame.hidden = false;
  const at = (k / (frames.length - 1)).toFixed(2);
  $("interp-frame-time").textContent = `frame ${k + 1} of ${frames.length} (t = ${at}), drawn by the server`;
}

// ---- InfoGAN ------------------------------------------------------------------------------------
// What each continuous code controls, from the evaluator's measurements in the model card (each code's correlation
// with the samples' slant and with their ink): "slant" or "width" where the code clearly moves one, else "code k".
// Which code takes which is learned, so it differs between trained models.
function codeNames(m) {
  const metrics = m.metrics || {}, slant = metrics.code_slant_correlation, ink = metrics.code_ink_correlation;
  return Array.from({ length: m.num_continuous || 0 }, (_, k) => {
    if (!slant || !ink) return `code ${k}`;
    const s = Math.abs(slant[k]), w = Math.abs(ink[k]);
    if (Math.max(s, w) < 0.5) return `code ${k}`;
    return s >= w ? "slant" : "width";
  });
}

function buildInfoganControls() {
  const m = model();
  $("infogan-section").hidden = !m.num_categories;
  const cats = $("category-buttons"), sliders = $("code-sliders"), sweeps = $("sweep-buttons");
  cats.replaceChildren(); sliders.replaceChildren(); sweeps.replaceChildren();
  $("sweep").hidden = true;
  if (!m.num_categories) return;
  state.category = 0;
  state.codes = Array(m.num_continuous).fill(0);
  const names = codeNames(m), codeLabel = (k) => (names[k] === `code ${k}` ? `Code ${k}` : `Code ${k} (${names[k]})`);
  const mapping = (m.metrics || {}).category_to_digit;
  for (let c = 0; c < m.num_categories; c++) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = mapping ? `${c} (≈${mapping[c]})` : String(c);
    b.className = "category";
    b.setAttribute("aria-pressed", String(c === 0));
    b.setAttribute("aria-label", `Category ${c}`);
    b.addEventListener("click", () => {
      state.category = c;
      for (const o of cats.children) o.setAttribute("aria-pressed", String(o === b));
      liveUpdate();
    });
    cats.append(b);
  }
  for (let k = 0; k < m.num_continuous; k++) {
    const row = document.createElement("label");
    row.className = "slider";
    const name = document.createElement("span"); name.textContent = codeLabel(k);
    const input = document.createElement("input");
    Object.assign(input, { type: "range", min: -2, max: 2, step: 0.05, value: 0, id: `code-${k}` });
    const value = document.createElement("output"); value.textContent = "0.00";
    input.addEventListener("input", () => {
      state.codes[k] = Number(input.value);
      value.textContent = Number(input.value).toFixed(2);
      liveUpdate();
    });
    row.append(name, input, value);
    sliders.append(row);
  }
  const addSweep = (label, vary) => {
    const b = document.createElement("button");
    b.type = "button"; b.textContent = label;
    b.addEventListener("click", () => guarded(() => runSweep(vary)));
    sweeps.append(b);
  };
  addSweep("Categories", "category");
  for (let k = 0; k < m.num_continuous; k++) addSweep(codeLabel(k), k);
}

// Live updates: at most one in flight; the latest slider position wins. Drawn here once the model is loaded in the
// browser (the seed's z from the server once), else a PNG from the server.
async function liveUpdate() {
  const live = state.live;
  if (live.busy) { live.pending = true; return; }
  live.busy = true;
  try {
    clearError();
    const started = performance.now();
    if (!(await liveHere(started))) {
      const params = new URLSearchParams({ seed: seedValue(), category: state.category, codes: state.codes.join(","), scale: 6 });
      const response = await request(`/models/${encodeURIComponent(model().name)}/sample.png?${params}`);
      const url = URL.createObjectURL(await response.blob());
      if (live.url) URL.revokeObjectURL(live.url);
      live.url = url;
      $("info-image").src = url;
      $("info-time").textContent = `drawn by the server in ${ms(performance.now() - started)}`;
    }
  } catch (error) {
    showError(error);
  } finally {
    live.busy = false;
    if (live.pending) { live.pending = false; liveUpdate(); }
  }
}

async function liveHere(started) {
  if (!drawsHere()) return false;
  const [known] = await seedLatents([seedValue()]);
  try {
    const [png] = await drawHere([{ z: known.z, category: state.category, codes: state.codes }]);
    if (state.live.url) URL.revokeObjectURL(state.live.url);
    state.live.url = null;
    $("info-image").src = pngURL(png);
    $("info-time").textContent = `drawn in your browser in ${ms(performance.now() - started)}`;
    return true;
  } catch (error) {
    giveUpLocal(error);
    return false;
  }
}

async function runSweep(vary) {
  const started = performance.now();
  const response = await request("/infogan/sweep", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: model().name, seed: seedValue(), vary, scale: 2, rows: 4 }),
  });
  const img = $("sweep");
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(await response.blob());
  img.alt = vary === "category" ? "Sweep: rows are seeds, columns are categories"
    : `Sweep: rows are categories, columns are code ${vary} from -2 to 2`;
  img.hidden = false;
  $("sweep-time").textContent = `${img.alt} (${ms(performance.now() - started)})`;
}

// ---- InfoGAN reads your drawing: POST /infogan/encode, then /infogan/sweep with the codes read ------
const pad = { drawing: false, last: null, dirty: false, busy: false, again: false };
const encoderModel = () => state.models.find((m) => m.encoder);

function clearPad() {
  const ctx = $("pad").getContext("2d");
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, $("pad").width, $("pad").height);
  pad.dirty = false;
  $("reading").hidden = true;
  $("redraw").replaceChildren();
  $("pad-time").textContent = "";
}

function padPoint(e) {
  const r = $("pad").getBoundingClientRect();
  return [(e.clientX - r.left) * ($("pad").width / r.width), (e.clientY - r.top) * ($("pad").height / r.height)];
}

function padDown(e) {
  e.preventDefault();
  try { $("pad").setPointerCapture(e.pointerId); } catch (_) { /* a pointer the browser no longer tracks */ }
  pad.drawing = true;
  pad.last = padPoint(e);
  padMove(e);
}

function padMove(e) {
  if (!pad.drawing) return;
  const ctx = $("pad").getContext("2d");
  const [x, y] = padPoint(e);
  ctx.strokeStyle = "#fff"; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
  ctx.beginPath(); ctx.moveTo(...pad.last); ctx.lineTo(x, y); ctx.stroke();
  pad.last = [x, y];
  pad.dirty = true;
}

function padUp() {
  if (!pad.drawing) return;
  pad.drawing = false;
  if (pad.dirty) guarded(readDrawing);
}

async function readDrawing() {
  if (pad.busy) { pad.again = true; return; }  // one request at a time; the latest drawing wins
  pad.busy = true;
  try {
    const m = encoderModel();
    const started = performance.now();
    const read = await postJSON("/infogan/encode", { model: m.name, image: $("pad").toDataURL("image/png") });
    showReading(read, m);
    const sweep = await postJSON("/infogan/sweep", { model: m.name, vary: "category", rows: 1, seed: seedValue(),
      codes: read.codes, format: "json", scale: 2 });
    const mapping = m.metrics.category_to_digit || [...Array(10).keys()];
    const tiles = sweep.images.map((img) => ({ img, digit: mapping[img.category] })).sort((a, b) => a.digit - b.digit);
    $("redraw").replaceChildren(...tiles.map(({ img, digit }) => {
      const tile = document.createElement("div");
      tile.className = "tile";
      const pic = new Image(56, 56);
      pic.src = pngURL(img.png);
      pic.alt = `digit ${digit} (category ${img.category}) with your codes`;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = `${digit}`;
      tile.append(pic, meta);
      return tile;
    }));
    $("pad-time").textContent = ms(performance.now() - started);
  } finally {
    pad.busy = false;
    if (pad.again) { pad.again = false; guarded(readDrawing); }
  }
}

function showReading(read, m) {
  $("reading").hidden = false;
  $("read-digit").textContent = read.digit ?? `category ${read.category}`;
  const p = read.probabilities[read.category];
  $("read-detail").textContent = `category ${read.category}, ${Math.round(p * 100)}% sure`;
  const probs = read.digit_probabilities || read.probabilities;
  $("read-bars").replaceChildren(...probs.flatMap((v, d) => {
    const label = document.createElement("span"); label.textContent = d;
    const bar = document.createElement("span"); bar.className = "bar"; bar.style.width = `${Math.max(1, v * 100)}%`;
    const value = document.createElement("span"); value.textContent = `${(v * 100).toFixed(1)}%`;
    return [label, bar, value];
  }));
  const names = codeNames(m);
  $("read-codes").textContent = read.codes.map((v, k) => `${names[k]} ${v.toFixed(2)}`).join(", ");
  $("read-seen").src = pngURL(read.seen);
}

function setUpPad() {
  $("draw-section").hidden = !encoderModel();
  clearPad();
}

// ---- How a GAN learns: the 1-D GAN's snapshots (training/toy1d.py), drawn on a canvas ----------------
const toy = { snaps: [], i: 0, timer: null };
const TOY_COLOURS = { p_data: "#e2e8f0", p_g: "#22c55e", d: "#38bdf8", d_star: "#94a3b8" };

function drawToy() {
  const canvas = $("toy-canvas");
  const snap = toy.snaps[toy.i];
  if (!snap) return;
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 24;
  ctx.clearRect(0, 0, w, h);
  const x0 = snap.x[0], x1 = snap.x[snap.x.length - 1];
  const peak = Math.max(...snap.p_data) * 1.15;
  const px = (x) => pad + ((x - x0) / (x1 - x0)) * (w - 2 * pad);
  const py = (y, scale) => h - pad - (Math.min(y, scale) / scale) * (h - 2 * pad);
  ctx.strokeStyle = "#334155"; ctx.lineWidth = 1; ctx.setLineDash([]);
  ctx.beginPath(); ctx.moveTo(pad, py(0.5, 1)); ctx.lineTo(w - pad, py(0.5, 1)); ctx.stroke();
  ctx.fillStyle = "#94a3b8"; ctx.font = "12px system-ui";
  ctx.fillText("D = 1/2", w - pad - 48, py(0.5, 1) - 4);
  const curve = (key, scale, dash, width) => {
    ctx.strokeStyle = TOY_COLOURS[key]; ctx.lineWidth = width; ctx.setLineDash(dash);
    ctx.beginPath();
    let drawing = false;
    snap.x.forEach((x, j) => {
      const y = snap[key][j];
      if (y === null) { drawing = false; return; }  // D* is undefined where neither density has mass
      if (drawing) ctx.lineTo(px(x), py(y, scale)); else ctx.moveTo(px(x), py(y, scale));
      drawing = true;
    });
    ctx.stroke();
  };
  curve("d_star", 1, [], 1);
  curve("p_g", peak, [], 2.5);
  curve("d", 1, [6, 4], 2);
  ctx.setLineDash([]); ctx.fillStyle = TOY_COLOURS.p_data;
  snap.x.forEach((x, j) => { if (j % 3 === 0) { ctx.beginPath(); ctx.arc(px(x), py(snap.p_data[j], peak), 2, 0, 7); ctx.fill(); } });
  $("toy-slider").value = toy.i;
  $("toy-label").textContent = `step ${snap.step} of ${toy.snaps[toy.snaps.length - 1].step}`;
}

function toyStep() {
  toy.i = (toy.i + 1) % toy.snaps.length;
  drawToy();
  if (toy.i === toy.snaps.length - 1) toyPause();  // stop on the equilibrium
}

function toyPause() {
  clearInterval(toy.timer);
  toy.timer = null;
  $("toy-play").textContent = "Play";
}

function toyPlay() {
  if (toy.i === toy.snaps.length - 1) toy.i = 0;
  toy.timer = setInterval(toyStep, 150);
  $("toy-play").textContent = "Pause";
}

async function loadToy() {
  const response = await fetch("/static/toy1d.json");
  if (!response.ok) throw new Error(`toy1d.json: HTTP ${response.status}`);
  toy.snaps = (await response.json()).snapshots;
  $("toy-slider").max = toy.snaps.length - 1;
  drawToy();
}

// ---- wiring ---------------------------------------------------------------------------------------
function wire() {
  $("model").addEventListener("change", (e) => guarded(() => selectModel(e.target.value)));
  $("generate").addEventListener("click", () => guarded(() => generateSamples()));
  $("new-seed").addEventListener("click", () => guarded(async () => {
    $("seed").value = Math.floor(Math.random() * 2 ** 31);
    await generateSamples();
    if (model().num_categories) await liveUpdate();
  }));
  $("seed").addEventListener("keydown", (e) => { if (e.key === "Enter") guarded(() => generateSamples()); });
  $("all-digits").addEventListener("click", () => guarded(allDigits));
  for (const b of document.querySelectorAll("button.target")) b.addEventListener("click", () => setTarget(b.dataset.target));
  $("pool-new").addEventListener("click", () => guarded(async () => {
    $("seed").value = seedValue() + 24;
    await newPool();
  }));
  $("arith-reset").addEventListener("click", resetPicks);
  $("arith-run").addEventListener("click", () => guarded(runArithmetic));
  $("interp-run").addEventListener("click", () => guarded(runInterpolation));
  $("interp-play").addEventListener("click", () => (state.anim.timer ? stopAnimation() : startAnimation()));
  $("interp-t").addEventListener("input", scrub);
  $("interp-method").addEventListener("change", () => { if (drawsHere() && state.picks.I.length === 2) scrub(); });
  $("pad").addEventListener("pointerdown", padDown);
  $("pad").addEventListener("pointermove", padMove);
  $("pad").addEventListener("pointerup", padUp);
  $("pad").addEventListener("pointercancel", padUp);
  $("pad-clear").addEventListener("click", clearPad);
  $("toy-play").addEventListener("click", () => (toy.timer ? toyPause() : toyPlay()));
  $("toy-step").addEventListener("click", () => { toyPause(); toyStep(); });
  $("toy-slider").addEventListener("input", (e) => { toyPause(); toy.i = Number(e.target.value); drawToy(); });
  window.addEventListener("unhandledrejection", (e) => showError(e.reason));
}

wire();
guarded(loadModels);
guarded(loadToy);
