// Speech panel: records from the microphone (MediaRecorder, WebM/Opus in Chromium and Firefox) or takes an
// audio file, posts it to /v1/audio/transcriptions (multipart, verbose_json) and shows the segments with
// their timestamps. Uses headers() from app.js for the API key.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  let recorder = null, chunks = [], stream = null, started = 0, timer = null;

  function fmt(t) {
    const m = Math.floor(t / 60), s = t - 60 * m;
    return String(m).padStart(2, "0") + ":" + s.toFixed(2).padStart(5, "0");
  }

  function status(text) { $("speech-status").textContent = text; }

  async function transcribe(blob, name) {
    status("Transcribing " + name + " (" + (blob.size / 1024).toFixed(0) + " KiB)...");
    const fd = new FormData();
    fd.append("file", blob, name);
    fd.append("model", "whisper-1");
    fd.append("response_format", "verbose_json");
    const lang = $("speech-language").value;
    if (lang) fd.append("language", lang);
    const h = headers();
    delete h["Content-Type"];  // the browser sets the multipart boundary
    const t0 = performance.now();
    const res = await fetch("/v1/audio/transcriptions", { method: "POST", headers: h, body: fd });
    const body = await res.json().catch(() => ({ error: { message: "HTTP " + res.status } }));
    if (!res.ok) { status("Error: " + (body.error ? body.error.message : res.status)); return; }
    const out = $("speech-transcript");
    out.textContent = "";
    for (const seg of body.segments || []) {
      const row = document.createElement("div");
      row.className = "segment";
      row.dataset.testid = "speech-segment";
      const ts = document.createElement("span");
      ts.className = "ts";
      ts.textContent = "[" + fmt(seg.start) + " \u2192 " + fmt(seg.end) + "]";
      const tx = document.createElement("span");
      tx.textContent = " " + seg.text.trim();
      row.append(ts, tx);
      out.append(row);
    }
    if (!(body.segments || []).length) out.textContent = body.text || "(no speech)";
    status("Done: " + (body.duration || 0).toFixed(1) + " s of audio in " + ((performance.now() - t0) / 1000).toFixed(1) + " s.");
  }

  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      status("No microphone: " + e.message);
      return;
    }
    chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
    recorder.onstop = () => {
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(timer);
      $("speech-record").classList.remove("hidden");
      $("speech-stop").classList.add("hidden");
      const type = recorder.mimeType || "audio/webm";
      transcribe(new Blob(chunks, { type }), type.includes("ogg") ? "recording.ogg" : "recording.webm");
    };
    recorder.start(250);
    started = performance.now();
    timer = setInterval(() => status("Recording... " + ((performance.now() - started) / 1000).toFixed(0) + " s"), 500);
    status("Recording...");
    $("speech-record").classList.add("hidden");
    $("speech-stop").classList.remove("hidden");
  }

  document.addEventListener("DOMContentLoaded", () => {
    if (!$("view-speech")) return;
    $("speech-record").onclick = start;
    $("speech-stop").onclick = () => { if (recorder && recorder.state !== "inactive") recorder.stop(); };
    $("speech-file").onchange = (e) => { const f = e.target.files[0]; if (f) transcribe(f, f.name); };
  });
})();
