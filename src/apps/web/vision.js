// Vision panel: drop or pick an image; it is shown and posted (base64) to /v1/images/classify with the
// optional CLIP labels; the top classes come back with their probabilities as bars. Boxes in a response's
// "boxes" ([{x0, y0, x1, y1, label, score}], image pixels; detection) are drawn over the image.
// Uses headers() from app.js for the API key.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  function status(text) { $("vision-status").textContent = text; }

  function readAsDataURL(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.readAsDataURL(file);
    });
  }

  function drawImage(url, boxes) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => {
        const c = $("vision-canvas");
        const scale = Math.min(1, 640 / img.width);
        c.width = Math.round(img.width * scale);
        c.height = Math.round(img.height * scale);
        const g = c.getContext("2d");
        g.drawImage(img, 0, 0, c.width, c.height);
        g.lineWidth = 2;
        g.font = "13px sans-serif";
        for (const b of boxes || []) {
          g.strokeStyle = "#e6194b";
          g.strokeRect(b.x0 * scale, b.y0 * scale, (b.x1 - b.x0) * scale, (b.y1 - b.y0) * scale);
          const t = b.label + " " + (100 * b.score).toFixed(0) + "%";
          g.fillStyle = "#e6194b";
          g.fillRect(b.x0 * scale, b.y0 * scale - 16, g.measureText(t).width + 6, 16);
          g.fillStyle = "#fff";
          g.fillText(t, b.x0 * scale + 3, b.y0 * scale - 4);
        }
        c.classList.remove("hidden");
        resolve();
      };
      img.onerror = () => resolve();
      img.src = url;
    });
  }

  function showResults(data) {
    const out = $("vision-results");
    out.textContent = "";
    for (const r of data) {
      const row = document.createElement("div");
      row.className = "vision-row";
      row.dataset.testid = "vision-result";
      const bar = document.createElement("div");
      bar.className = "vision-bar";
      bar.style.width = Math.max(1, Math.round(100 * r.score)) + "%";
      const label = document.createElement("span");
      label.className = "vision-label";
      label.textContent = r.label;
      const score = document.createElement("span");
      score.className = "vision-score";
      score.textContent = (100 * r.score).toFixed(2) + "%";
      row.append(bar, label, score);
      out.append(row);
    }
  }

  async function classify(file) {
    if (!file) return;
    status("Reading " + file.name + "...");
    const url = await readAsDataURL(file);
    await drawImage(url, []);
    const body = { image: url, top_k: 5 };
    const model = $("vision-model").value.trim();
    if (model) body.model = model;
    const labels = $("vision-labels").value.split(",").map((s) => s.trim()).filter(Boolean);
    if (labels.length) body.labels = labels;
    status("Classifying...");
    const t0 = performance.now();
    const res = await fetch("/v1/images/classify", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    const out = await res.json().catch(() => ({ error: { message: "HTTP " + res.status } }));
    if (!res.ok) { status("Error: " + (out.error ? out.error.message : res.status)); return; }
    showResults(out.data || []);
    if (out.boxes) await drawImage(url, out.boxes);
    status(file.name + ": " + out.model + " in " + ((performance.now() - t0) / 1000).toFixed(2) + " s.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("view-vision")) return;
    $("vision-file").onchange = (e) => classify(e.target.files[0]);
    const drop = $("vision-drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      classify(e.dataTransfer.files[0]);
    });
  });
})();
