// Live video from Council's own recorder (HLS). Browsers that play HLS themselves get the
// playlist directly; others load the vendored hls.js (390 KB) only then, never up front.

const HLS_SCRIPT = "/static/vendor/hls.js/hls.light.min.js";

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = reject;
    document.head.append(script);
  });
}

const RETRY_SECONDS = 4;
const MAX_RETRIES = 60;

// Chromium's own HLS player gives up on a live playlist that has a single segment (the
// first seconds of a recording) instead of waiting for more; a dropped connection ends it
// too. Try again every few seconds, and play on if the person had pressed play.
function keepTrying(video, src) {
  let wanted = false;
  let retries = 0;
  video.addEventListener("play", () => {
    wanted = true;
  });
  video.addEventListener("error", () => {
    if (retries >= MAX_RETRIES) return;
    retries += 1;
    setTimeout(() => {
      video.src = src;
      video.load();
      if (wanted) video.play().catch(() => {});
    }, RETRY_SECONDS * 1000);
  });
}

// Returns how it plays: "native", "hls.js", or "unsupported".
export async function playLive(video, src) {
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    keepTrying(video, src);
    video.src = src;
    return "native";
  }
  try {
    await loadScript(HLS_SCRIPT);
  } catch {
    return "unsupported";
  }
  const Hls = window.Hls;
  if (!Hls || !Hls.isSupported()) return "unsupported";
  // No worker: it would need a blob: URL, which the Content-Security-Policy forbids.
  const hls = new Hls({ enableWorker: false });
  hls.loadSource(src);
  hls.attachMedia(video);
  return "hls.js";
}
