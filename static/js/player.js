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

// Returns how it plays: "native", "hls.js", or "unsupported".
export async function playLive(video, src) {
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
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
