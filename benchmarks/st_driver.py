"""Drive a real Streamlit server over its own websocket, the way a browser does (used by serve_bench.py and the tests).

A browser visitor: GETs the page (index.html), GETs ``/_stcore/health`` (which sets the ``_streamlit_xsrf`` cookie)
and ``/_stcore/host-config``, then opens ``/_stcore/stream`` with the subprotocols ``["streamlit", <xsrf cookie>]``
(the server reads the second entry as the XSRF token, the third, when present, as a session to reconnect to). It
sends ``BackMsg`` protobufs — ``rerun_script`` carrying a ``ClientState``: the URL's query string, the page (by
``page_name`` = url path on the first run, by ``page_script_hash`` after), *every* widget's current value, and the
hashes of the large messages it has cached — and reads ``ForwardMsg`` protobufs (one per websocket frame) until
``script_finished``. This module does the same, with the message classes that ship with streamlit
(``streamlit.proto``) and the ``websockets`` client that streamlit itself depends on.

What the browser keeps between runs, this client keeps too:

* widget values (by widget id): a widget seen for the first time takes its default (or the value the server set
  with ``set_value``); afterwards its value is the visitor's until they change it; widgets absent from a finished
  run are dropped. A change is sent as the whole set of values with one of them replaced, as a browser does.
* the query string: every ``page_info_changed`` replaces it (what ``st.query_params`` writes reaches the URL).
* the message cache: ``cacheable`` messages (>= 10 kB ``new_element`` deltas, e.g. Plotly specs) are kept by hash;
  their hashes go with the next ``rerun_script`` and the server answers with ``ref_hash`` stubs, resolved here.
  Entries unused for more than ``max_cached_message_age`` runs (from ``new_session.config``) are dropped.

A finished run gives a ``RunResult``: the elements at their delta paths, the exception and error elements, the wall
time, and ``view()`` — a normalised, comparable summary (measured times masked) of what the visitor would see.

    async with Session("http://127.0.0.1:8501") as s:
        r = await s.open("GAN", "seed=3")            # page by url path ("" = the main page), query string
        r = await s.change({"gan.seed": 4})            # widget by user key (or label), to a new value
        r = await s.goto("FAQ")                        # another page in the same session
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parent.parent
FINISHED = ForwardMsg.ScriptFinishedStatus
# Element kinds that carry a widget value in the browser, and the ones that only send a trigger when clicked.
VALUE_WIDGETS = {"radio", "selectbox", "number_input", "slider", "text_input", "text_area", "multiselect",
                 "checkbox", "button_group", "color_picker", "date_input", "time_input"}
TRIGGER_WIDGETS = {"button", "download_button"}
INTERACTIVE = VALUE_WIDGETS | TRIGGER_WIDGETS | {"plotly_chart", "bidi_component", "file_uploader"}
_MS = re.compile(r"\d[\d,]*(?:\.\d+)?\s*ms\b")  # measured times in captions differ between runs: masked in view()


class DriverError(RuntimeError):
    """The server broke the protocol, a run did not finish in time, or a widget to change is not on the page."""


# --------------------------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(options: Mapping[str, Any] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server with config ``options`` ({"runner.postScriptGC": False, ...}) as STREAMLIT_* vars.

    Environment variables override .streamlit/config.toml (and hidden options such as runner.postScriptGC can be
    set this way), so a benchmark can try a setting without editing the file.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("OMP_NUM_THREADS", "1")
    from streamlit import config

    for name, value in (options or {}).items():
        opt = config._config_options_template.get(name)
        if opt is None:
            raise DriverError(f"no such streamlit config option: {name}")
        env[opt.env_var] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


class Server:
    """``streamlit run streamlit_app.py`` on a loopback port, headless; a context manager that stops it.

    ``options``: config options set through the environment; ``log``: a file for the server's stdout+stderr;
    ``prefix``: a command in front of python (e.g. ``["nice", "-n", "10"]``).
    """

    def __init__(self, root: Path = ROOT, script: str = "streamlit_app.py", port: int | None = None,
                 options: Mapping[str, Any] | None = None, log: Path | None = None,
                 prefix: Iterable[str] = (), python: str = sys.executable, extra_args: Iterable[str] = (),
                 launcher: Path | None = None, env: Mapping[str, str] | None = None):
        self.root, self.script, self.port = Path(root), script, port or free_port()
        self.options, self.log_path, self.prefix, self.python = dict(options or {}), log, list(prefix), python
        self.extra_args, self.launcher, self.env = list(extra_args), launcher, dict(env or {})
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 120.0) -> "Server":
        entry = [str(self.launcher)] if self.launcher else ["-m", "streamlit"]
        cmd = [*self.prefix, self.python, *entry, "run", self.script, "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--server.headless", "true", *self.extra_args]
        self._log = open(self.log_path, "w") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, cwd=self.root, env={**env_for(self.options), **self.env},
                                     stdout=self._log, stderr=subprocess.STDOUT)
        wait_healthy(self.url, timeout, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_healthy(url: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise DriverError(f"the server exited with status {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise DriverError(f"{url} was not healthy within {timeout:.0f} s")


# ------------------------------------------------------------------------------------------------------ one run
@dataclass
class Element:
    path: tuple[int, ...]
    kind: str  # element type ("markdown", "plotly_chart", ...) or "block:<type>" for a container
    proto: Any  # the element's own message (e.g. the Markdown proto), or the Block


@dataclass
class RunResult:
    page: str  # the url path of the page that ran ("" for the main page)
    query: str  # the URL's query string after the run
    elements: dict[tuple[int, ...], Element]
    widgets: dict[str, WidgetState]  # the browser's widget values after the run, by widget id
    seconds: float  # wall time from sending rerun_script to script_finished
    status: str
    messages: int
    bytes: int
    page_not_found: bool = False

    @property
    def exceptions(self) -> list[Element]:
        return [e for e in self.elements.values() if e.kind == "exception"]

    @property
    def errors(self) -> list[Element]:
        """st.error boxes (format ERROR) — a clear message, not a traceback, but still not a normal view."""
        return [e for e in self.elements.values() if e.kind == "alert" and e.proto.format == 1]

    def texts(self) -> list[str]:
        return [t for _, k, t in self.view() if k in ("markdown", "heading", "text", "alert", "caption")]

    def charts(self) -> list[dict]:
        return [json.loads(e.proto.spec) for _, e in sorted(self.elements.items()) if e.kind == "plotly_chart"]

    def metrics(self) -> dict[str, str]:
        return {e.proto.label: e.proto.body for e in self.elements.values() if e.kind == "metric"}

    def view(self) -> list[tuple]:
        """What the visitor sees, element by element in page order, with measured times masked ("# ms")."""
        out = []
        for path in sorted(self.elements):
            e = self.elements[path]
            out.append((path, e.kind, _summary(e, self.widgets)))
        return out

    def digest(self) -> str:
        return hashlib.blake2b(repr(self.view()).encode(), digest_size=16).hexdigest()


def _mask(text: str) -> str:
    return _MS.sub("# ms", text)


def _summary(e: Element, widgets: Mapping[str, WidgetState]) -> Any:
    p, k = e.proto, e.kind
    if k.startswith("block:"):
        label = getattr(getattr(p, k[6:], None), "label", "")
        return label
    if k in ("markdown", "text", "heading"):
        return _mask(p.body)
    if k == "alert":
        return (p.format, _mask(p.body))
    if k == "exception":
        return (p.type, p.message)
    if k == "metric":
        return (p.label, p.body, p.delta)
    if k == "plotly_chart":
        return (p.id, hashlib.blake2b(p.spec.encode(), digest_size=16).hexdigest(), p.config)
    if k == "code":
        return (p.language, p.code_text)
    if k == "json":
        return p.body
    if k in ("download_button", "button", "page_link"):
        return (p.label, getattr(p, "url", ""), getattr(p, "page", ""))
    if k in VALUE_WIDGETS:
        st = widgets.get(p.id)
        value = None if st is None else _state_value(st)
        return (p.id, p.label, value)
    if k == "bidi_component":
        return (p.id, p.component_name)
    if k == "imgs":
        return tuple(i.url for i in p.imgs)
    return p.SerializeToString(deterministic=True).hex()[:64]


def _state_value(st: WidgetState) -> Any:
    which = st.WhichOneof("value")
    if which is None:
        return None
    v = getattr(st, which)
    if which.endswith("_array_value"):
        return tuple(v.data)
    return v


# ------------------------------------------------------------------------------------------ browser-side widget
def _initial_state(kind: str, p: Any) -> WidgetState | None:
    """The value a browser gives a widget it mounts: what the server set (set_value), else the default."""
    st = WidgetState(id=p.id)
    has = p.HasField if hasattr(p, "HasField") else (lambda _: False)

    def _has(name: str) -> bool:
        try:
            return has(name)
        except ValueError:  # not an optional field: proto3 scalars are always "set"
            return True

    if kind in ("radio", "selectbox"):
        if p.set_value:
            if p.HasField("raw_value"):
                st.string_value = p.raw_value
            else:
                return None
        elif _has("default") and p.options and 0 <= p.default < len(p.options):
            st.string_value = p.options[p.default]
        else:
            return None
    elif kind == "number_input":
        if p.set_value:
            v = p.value
        elif _has("default"):
            v = p.default
        else:
            return None
        if p.data_type == 0:  # NumberInput.INT
            st.int_value = int(v)
        else:
            st.double_value = float(v)
    elif kind == "slider":
        if p.options:  # select_slider: formatted option strings
            vals = list(p.raw_value) if p.set_value else [p.options[int(i)] for i in p.default]
            st.string_array_value.data.extend(vals)
        else:
            st.double_array_value.data.extend(list(p.value) if p.set_value else list(p.default))
    elif kind in ("text_input", "text_area"):
        if p.set_value:
            st.string_value = p.value
        elif _has("default"):
            st.string_value = p.default
        else:
            return None
    elif kind == "multiselect":
        vals = list(p.raw_values) if p.set_value else [p.options[i] for i in p.default if 0 <= i < len(p.options)]
        st.string_array_value.data.extend(vals)
    elif kind == "checkbox":
        st.bool_value = bool(p.value if p.set_value else p.default)
    elif kind == "button_group":
        vals = list(p.raw_values) if p.set_value else [p.options[i].content for i in p.default]
        st.string_array_value.data.extend(vals)
    else:
        return None
    return st


def _changed_state(kind: str, p: Any, value: Any) -> WidgetState:
    """The WidgetState a browser sends after the visitor set widget ``p`` (of type ``kind``) to ``value``."""
    st = WidgetState(id=p.id)
    if kind in ("radio", "selectbox"):
        value = str(value)
        if p.options and value not in p.options and not getattr(p, "accept_new_options", False):
            raise DriverError(f"{p.label!r}: {value!r} is not one of its options {list(p.options)}")
        st.string_value = value
    elif kind == "number_input":
        if p.data_type == 0:
            st.int_value = int(value)
        else:
            st.double_value = float(value)
    elif kind == "slider":
        vals = list(value) if isinstance(value, (list, tuple)) else [value]
        if p.options:
            st.string_array_value.data.extend(str(v) for v in vals)
        else:
            st.double_array_value.data.extend(float(v) for v in vals)
    elif kind in ("text_input", "text_area"):
        st.string_value = str(value)
    elif kind in ("multiselect", "button_group"):
        st.string_array_value.data.extend(str(v) for v in value)
    elif kind == "checkbox":
        st.bool_value = bool(value)
    elif kind in TRIGGER_WIDGETS:
        st.trigger_value = True
    elif kind == "bidi_component":  # the component's whole state, e.g. {"png": "data:image/png;base64,..."}
        st.json_value = value if isinstance(value, str) else json.dumps(value)
    elif kind == "plotly_chart":  # a selection event, e.g. {"selection": {"points": [...]}}
        st.string_value = value if isinstance(value, str) else json.dumps(value)
    else:
        raise DriverError(f"{p.id}: cannot set a {kind} from this client")
    return st


def user_key(widget_id: str) -> str | None:
    """The key= a widget was created with, from its id "$$ID-<hash>-<key>" (None without one)."""
    if not widget_id.startswith("$$ID-"):
        return None
    key = widget_id.split("-", 2)[-1]
    return None if key == "None" else key


# -------------------------------------------------------------------------------------------------- the session
@dataclass
class _Cached:
    msg: ForwardMsg
    age: int = 0


@dataclass
class Session:
    """One visitor: one websocket, one server-side session. Use as ``async with Session(url) as s``."""

    base: str  # "http://127.0.0.1:PORT"
    timeout: float = 120.0  # seconds one run may take before DriverError
    use_cache: bool = True  # report cached message hashes, as a browser does
    ws: Any = None
    query: str = ""
    page: str = ""
    page_hash: str = ""
    pages: dict[str, str] = field(default_factory=dict)  # url path -> page_script_hash
    states: dict[str, WidgetState] = field(default_factory=dict)
    widgets: dict[str, tuple[str, Any]] = field(default_factory=dict)  # id -> (kind, proto) of the last run
    cache: dict[str, _Cached] = field(default_factory=dict)
    max_age: int = 2
    last: RunResult | None = None
    session_id: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    main_hash: str = ""
    _navigation: bool = False
    _script_of: dict[str, str] = field(default_factory=dict)  # widget id -> hash of the script that drew it
    fragments: bool = True  # a change of widgets inside one st.fragment reruns only it, as the browser does
    _fragment_of: dict[str, str] = field(default_factory=dict)  # widget id -> id of the fragment that drew it

    async def __aenter__(self) -> "Session":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ----------------------------------------------------------------------------- connecting
    async def connect(self, page: str = "", query: str = "") -> None:
        """The page load: GET the page, the health check (sets the XSRF cookie) and host config; open the stream."""
        host = self.base.split("://", 1)[1]
        await asyncio.to_thread(self._http_get, f"/{page}" + (f"?{query}" if query else ""))
        await asyncio.to_thread(self._http_get, "/_stcore/health")
        await asyncio.to_thread(self._http_get, "/_stcore/host-config")
        token = self.cookies.get("_streamlit_xsrf", "")
        self.ws = await websockets.connect(
            f"ws://{host}/_stcore/stream", subprotocols=["streamlit", token] if token else ["streamlit"],
            origin=self.base, additional_headers={"Cookie": self._cookie_header()} if self.cookies else None,
            max_size=None, open_timeout=self.timeout, ping_interval=None,
            user_agent_header="big-model-lab st_driver")

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _http_get(self, path: str) -> None:
        """GET with this browser's cookies; keeps every cookie set (the XSRF one, a proxy's affinity cookie)."""
        req = urllib.request.Request(self.base + path, headers={"Cookie": self._cookie_header()} if self.cookies
                                     else {})
        with urllib.request.urlopen(req, timeout=self.timeout) as r:
            r.read()
            for c in r.headers.get_all("set-cookie") or []:
                name, _, value = c.split(";", 1)[0].partition("=")
                if name.strip():
                    self.cookies[name.strip()] = value.strip()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    # ----------------------------------------------------------------------------- runs
    async def open(self, page: str = "", query: str = "") -> RunResult:
        """Load ``page`` (url path, "" = main page) with ``query`` in a fresh browser tab: connect, then run."""
        if self.ws is None:
            await self.connect(page, query)
        self.page, self.query, self.page_hash = page, query, ""
        return await self._run(page_name=page)

    async def goto(self, page: str, query: str | None = None) -> RunResult:
        """Switch page in the same session, as the sidebar or an st.page_link does (query: the link's, default none).

        A shared link with its own query is a page load, not a switch: use a fresh Session and ``open()``.
        """
        if self.ws is None:
            return await self.open(page, query or "")
        self.page, self.query = page, query or ""
        self.page_hash = self.pages.get(page, "")
        # as the frontend does on a page change: keep the values of widgets the main script drew (with
        # st.navigation, e.g. a sidebar drawn before pg.run()), drop the old page's
        self.states = {w: st for w, st in self.states.items() if self._script_of.get(w) == self.main_hash}
        return await self._run(page_name="" if self.page_hash else page)

    async def rerun(self) -> RunResult:
        """The same view again (the "R" key): every widget keeps its value."""
        return await self._run()

    async def change(self, changes: Mapping[str, Any]) -> RunResult:
        """Set widgets (by user key, else by label) to new values and rerun, as one interaction."""
        where = set()
        for name, value in changes.items():
            wid = self.find(name)
            kind, p = self.widgets[wid]
            self.states[wid] = _changed_state(kind, p, value)
            where.add(self._fragment_of.get(wid, ""))
        # the frontend reruns just the fragment when every changed widget is inside that one fragment
        fragment = where.pop() if self.fragments and len(where) == 1 else ""
        return await self._run(fragment_id=fragment)

    def find(self, name: str) -> str:
        """The id of the widget whose key= (or, failing that, label) is ``name`` on the last run."""
        by_key = [w for w in self.widgets if user_key(w) == name]
        if by_key:
            return by_key[0]
        by_label = [w for w, (_, p) in self.widgets.items() if getattr(p, "label", None) == name]
        if by_label:
            return by_label[0]
        raise DriverError(f"no widget with key or label {name!r} on page {self.page!r} "
                          f"(keys: {sorted(filter(None, map(user_key, self.widgets)))})")

    def has(self, name: str) -> bool:
        try:
            self.find(name)
            return True
        except DriverError:
            return False

    async def _run(self, page_name: str = "", fragment_id: str = "") -> RunResult:
        if self.ws is None:
            raise DriverError("not connected: call open() first")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        cs.page_name = page_name if not self.page_hash else ""
        cs.fragment_id = fragment_id
        cs.widget_states.widgets.extend(self.states.values())
        if self.use_cache:
            cs.cached_message_hashes.extend(self.cache)
        ci = cs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url = f"{self.base}/{self.page}" + (f"?{self.query}" if self.query else "")
        ci.color_scheme = "light"
        t0 = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        # trigger values are sent once (a button press), then forgotten as the browser does
        for wid in [w for w, st in self.states.items() if st.WhichOneof("value") in ("trigger_value",)]:
            del self.states[wid]
        try:
            return await asyncio.wait_for(self._read_run(t0, fragment_id), self.timeout)
        except asyncio.TimeoutError:
            raise DriverError(f"page {self.page!r} did not finish within {self.timeout:.0f} s") from None

    async def _read_run(self, t0: float, fragment_id: str = "") -> RunResult:
        # a fragment's run redraws only the fragment: the rest of the view stays as the last run left it
        elements: dict[tuple[int, ...], Element] = dict(self.last.elements) if fragment_id and self.last else {}
        seen: set[str] = set()
        used_hashes: set[str] = set()
        n = nbytes = 0
        not_found = False
        while True:
            data = await self.ws.recv()
            n += 1
            nbytes += len(data)
            fm = ForwardMsg()
            fm.ParseFromString(data)
            if fm.WhichOneof("type") == "ref_hash":
                cached = self.cache.get(fm.ref_hash)
                if cached is None:
                    raise DriverError(f"the server referred to message {fm.ref_hash} that this client never cached")
                path = list(fm.metadata.delta_path)
                fm = cached.msg
                used_hashes.add(fm.hash)
            else:
                path = list(fm.metadata.delta_path)
                if fm.metadata.cacheable and fm.hash:
                    self.cache[fm.hash] = _Cached(fm)
                    used_hashes.add(fm.hash)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                ns = fm.new_session
                if not fragment_id:
                    elements.clear()
                    seen.clear()
                if ns.HasField("initialize"):
                    self.session_id = ns.initialize.session_id
                if ns.config.max_cached_message_age:
                    self.max_age = ns.config.max_cached_message_age
                if ns.page_script_hash:
                    self.page_hash = ns.page_script_hash
                if ns.main_script_hash:
                    self.main_hash = ns.main_script_hash
                if not self._navigation:  # a pages/ folder's pages, until st.navigation says otherwise
                    self._learn_pages(ns.app_pages)
            elif kind == "navigation":  # st.navigation's page list is the one that counts
                self._navigation = True
                self.pages.clear()
                self._learn_pages(fm.navigation.app_pages)
                if fm.navigation.page_script_hash:
                    self.page_hash = fm.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "page_not_found":
                not_found = True
            elif kind == "delta":
                d = fm.delta
                which = d.WhichOneof("type")
                if which == "new_element":
                    ek = d.new_element.WhichOneof("type")
                    p = getattr(d.new_element, ek)
                    self._drop_below(elements, tuple(path))  # an element replaces a container and its children
                    elements[tuple(path)] = Element(tuple(path), ek, p)
                    if ek in INTERACTIVE and getattr(p, "id", ""):
                        seen.add(p.id)
                        self.widgets[p.id] = (ek, p)
                        self._script_of[p.id] = fm.metadata.active_script_hash
                        self._fragment_of[p.id] = d.fragment_id
                        if ek in VALUE_WIDGETS and (p.id not in self.states or getattr(p, "set_value", False)):
                            st = _initial_state(ek, p)
                            if st is not None:
                                self.states[p.id] = st
                elif which == "add_block":
                    bk = d.add_block.WhichOneof("type") or "vertical"
                    # as the frontend does: a container that replaces one of the same type keeps its children
                    # (they are replaced in turn, or stay as this run drew them); any other kind drops them
                    prev = elements.get(tuple(path))
                    if prev is None or prev.kind != f"block:{bk}":
                        self._drop_below(elements, tuple(path))
                    elements[tuple(path)] = Element(tuple(path), f"block:{bk}", d.add_block)
            elif kind == "script_finished":
                status = FINISHED.Name(fm.script_finished)
                if fm.script_finished == FINISHED.FINISHED_EARLY_FOR_RERUN:
                    continue  # the server started another run (st.rerun, or a rerun request overtook this one)
                self._after_run(seen, used_hashes, fragment_id)
                self.last = RunResult(self.page, self.query, elements, dict(self.states),
                                      time.perf_counter() - t0, status, n, nbytes, not_found)
                return self.last

    @staticmethod
    def _drop_below(elements: dict, path: tuple[int, ...]) -> None:
        for q in [q for q in elements if len(q) > len(path) and q[: len(path)] == path]:
            del elements[q]

    def _learn_pages(self, app_pages) -> None:
        for ap in app_pages:
            self.pages[ap.url_pathname] = ap.page_script_hash

    def _after_run(self, seen: set[str], used: set[str], fragment_id: str = "") -> None:
        # the browser unmounts widgets the run did not draw (a fragment's run: only the fragment's), and ages its
        # message cache
        def gone(w: str) -> bool:
            return w not in seen and (not fragment_id or self._fragment_of.get(w) == fragment_id)

        for wid in [w for w in self.states if gone(w)]:
            del self.states[wid]
        for wid in [w for w in self.widgets if gone(w)]:
            del self.widgets[wid]
            self._script_of.pop(wid, None)
            self._fragment_of.pop(wid, None)
        for h, c in list(self.cache.items()):
            c.age = 0 if h in used else c.age + 1
            if c.age > self.max_age:
                del self.cache[h]


# ------------------------------------------------------------------------------------------------ conveniences
def server_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the server process and its children so far."""
    import psutil

    p = psutil.Process(pid)
    t = p.cpu_times()
    total = t.user + t.system
    for c in p.children(recursive=True):
        try:
            ct = c.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            pass
    return total


def server_rss_mb(pid: int) -> float:
    import psutil

    p = psutil.Process(pid)
    total = p.memory_info().rss
    for c in p.children(recursive=True):
        try:
            total += c.memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20
