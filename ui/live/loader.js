// The inline module of every live component (Streamlit turns it into a blob: URL, so a bare "/app/static/..."
// specifier cannot resolve): it finds the app's base URL from Streamlit's own script tag (else `location`) and
// imports the view named in `data.module` from the app's static files. If that fails, it says so with Python's
// string and tells Python, so the page runs the server path.
export default function (raw) {
  // Python sends the view's data as one JSON string (see ui/live/__init__.py _mount); the views see it parsed
  const data = JSON.parse((raw.data && raw.data.json) || "{}");
  const component = Object.create(raw, { data: { value: data, enumerable: true } });
  const { parentElement } = component;
  const tag = document.querySelector('script[src*="/static/js/index"]');
  const base = tag && tag.src ? new URL("../../", tag.src).href : new URL("./", location.href).href;
  let cleanup = null;
  let gone = false;
  import(new URL(data.module, base).href)
    .then((m) => {
      if (!gone) cleanup = m.default(component);
    })
    .catch((err) => {
      if (gone) return;
      let box = parentElement.querySelector(".bml-live-fallback");
      if (!box) {
        box = document.createElement("div");
        box.className = "bml-live-fallback";
        box.setAttribute("data-testid", "live-status");
        parentElement.appendChild(box);
      }
      const reason = String((err && err.message) || err).slice(0, 300);
      const t = (data.strings && data.strings.server) || "running on the server ({reason})";
      box.dataset.state = "server";
      box.textContent = t.replace("{reason}", reason);
      const status = { ok: false, scope: "runtime", reason };
      const known = data.reported || data.known;
      if (!known || known.ok !== false || known.scope !== "runtime") component.setStateValue("runtime", status);
    });
  return () => {
    gone = true;
    if (cleanup) cleanup();
  };
}
