"""The router: page list, sidebar (language, execution provider, what the page's sessions run on), and the guard
that keeps any page's unexpected error to a short message on screen and a traceback in the server log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort
import streamlit as st

import ui
from core import i18n
from ui import live
from core.runtime import memory
from core.runtime.session import available_providers

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Page:
    file: str  # relative to the repository root
    key: str  # catalogue prefix: <key>.nav, <key>.title, <key>.intro, <key>.card
    icon: str
    url: str  # the URL path (?… query parameters follow it)


PAGES = (
    Page("app_pages/home.py", "home", ":material/science:", ""),
    Page("app_pages/autoencoder.py", "autoencoder", ":material/cycle:", "Autoencoder"),
    Page("app_pages/gan.py", "gan", ":material/casino:", "GAN"),
    Page("app_pages/attention.py", "attention", ":material/center_focus_strong:", "Attention"),
    Page("app_pages/transformer.py", "transformer", ":material/hub:", "Transformer"),
    Page("app_pages/real_transformer.py", "realtf", ":material/psychology:", "RealTransformer"),
    Page("app_pages/models.py", "models", ":material/deployed_code:", "Models"),
    Page("app_pages/faq.py", "faq", ":material/quiz:", "FAQ"),
)


def present() -> list[Page]:
    """The pages whose files exist (a trimmed checkout still runs)."""
    return [p for p in PAGES if (ROOT / p.file).is_file()]


def main() -> None:
    st.set_page_config(page_title="Big-Model Lab", page_icon=":material/science:", layout="wide")
    memory.start()  # once per server process: freed heap goes back to the OS every 30 s (RSS stays flat)
    # wide Markdown tables scroll sideways on a phone instead of being cut off at the screen's edge
    st.html("<style>[data-testid='stMarkdownContainer'] table{display:block;overflow-x:auto;max-width:100%}</style>")
    lang = _language()
    pages = {p.url: st.Page(str(ROOT / p.file), title=i18n.t(f"{p.key}.nav", lang), icon=p.icon,
                            url_path=p.url or None, default=not p.url) for p in present()}
    current = st.navigation(list(pages.values()))
    ui.start_run(next((p.key for p in present() if pages[p.url] is current), "home"))
    _provider()
    try:
        with ui.contained(f"page {ui.page_id()}"):  # a clear message for what the page did not catch itself
            current.run()
    finally:  # (a page that stops early calls ui.stop(), which lists its sessions first)
        ui.show_used()


def _language() -> str:
    with st.sidebar:
        return ui.url_choice(st.radio, "语言 · Language", i18n.LANGS, key="lang", default=ui.browser_lang(),
                             format_func=i18n.NAMES.get, horizontal=True)


def _provider() -> None:
    with st.sidebar:
        st.markdown(f"**{ui.t('app.provider')}**")
        choice = st.radio(ui.t("app.provider"), list(ui.PROVIDERS), format_func=ui.PROVIDERS.get, horizontal=True,
                          label_visibility="collapsed", key="provider", bind=ui.BIND,
                          help=ui.t("app.provider_help"))
        if choice == "cuda" and "CUDAExecutionProvider" not in available_providers():
            st.warning(ui.t("app.no_cuda"))
        ui.status_slot()
        st.caption(ui.t("app.ort_caption", version=ort.__version__,
                        providers=", ".join(ui.short(p) for p in ui.learner_providers())))
        st.caption(live.runtime_text())
