// A fingerprinted name: served with `Cache-Control: public, max-age=31536000, immutable`,
// and as `app.3f2a9c1e.js.gz` to clients that accept gzip.
document.addEventListener("DOMContentLoaded", () => {
  fetch("/api/time").then((r) => r.text()).then((t) => {
    const p = document.createElement("p");
    p.textContent = "The application says: " + t;
    document.body.appendChild(p);
  });
});
