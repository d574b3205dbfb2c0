// The gateway demo's script, served by StaticFiles under /static (or by
// nginx): marks the link to the page being shown.
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a[href]")) {
    if (link.pathname === window.location.pathname) {
      link.setAttribute("aria-current", "page");
    }
  }
});
