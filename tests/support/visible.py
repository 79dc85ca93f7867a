"""What a page shows a visitor, as text: every string of every element AppTest rendered, and the text inside its
Plotly figures (titles, axes, annotations, legends, hover templates). Used by the language tests."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Iterator

# proto fields that are identifiers, data or code, not text a visitor reads
_SKIP_FIELDS = {
    "id", "form_id", "key", "query_param_key", "url", "icon", "spec", "figure", "data", "default", "value",
    "raw_value", "set_value", "page_script_hash", "page", "file_name", "mime", "deprecation", "theme", "args",
    "language", "element_id", "widget_id", "component_name", "css", "js", "html", "json_args", "uuid", "type",
    "width_config", "height_config", "selection_mode", "string_value", "string_array_value", "page_name",
    "main_page_url", "icon_name", "format", "format_func", "double_array_value", "int_array_value", "digest",
}
# the element types whose body is code or data (shown as typed, never translated)
_SKIP_TYPES = {"code", "json", "arrow_data_frame", "deck_gl_json_chart", "bidi_component", "exception"}


def _repeated(field) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 5: label is gone
    return bool(flag) if flag is not None else field.label == field.LABEL_REPEATED


def _strings(msg, skip_body: bool = False) -> Iterator[str]:
    for field, value in msg.ListFields():
        name = field.name
        if name in _SKIP_FIELDS or (skip_body and name == "body"):
            continue
        if field.type == field.TYPE_STRING:
            vals = value if _repeated(field) else [value]
            for v in vals:
                if v:
                    yield v
        elif field.type == field.TYPE_MESSAGE:
            vals = value if _repeated(field) else [value]
            for v in vals:
                yield from _strings(v)


def _plotly(spec: str) -> Iterator[str]:
    fig = json.loads(spec)
    layout = fig.get("layout", {})

    def title(obj):
        t = obj.get("title") if isinstance(obj, dict) else None
        if isinstance(t, dict):
            t = t.get("text")
        if isinstance(t, str) and t:
            yield t

    yield from title(layout)
    for k, v in layout.items():
        if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict):
            yield from title(v)
        if k == "legend" and isinstance(v, dict):
            yield from title(v)
    for a in layout.get("annotations", []) or []:
        if isinstance(a, dict) and isinstance(a.get("text"), str):
            yield a["text"]
    for trace in fig.get("data", []):
        for k in ("name", "hovertemplate"):
            if isinstance(trace.get(k), str):
                yield trace[k]
        bar = trace.get("colorbar") or (trace.get("marker") or {}).get("colorbar")
        if isinstance(bar, dict):
            yield from title(bar)


class _HtmlText(HTMLParser):
    """The text a browser shows of an HTML fragment: tag contents, not tags, attributes, styles or scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.out.append(data)


def _html(body: str) -> list[str]:
    p = _HtmlText()
    p.feed(body)
    p.close()
    return [" ".join(p.out)] if p.out else []


def visible_texts(at) -> list[str]:
    """Every text of the rendered app (main and sidebar)."""
    out: list[str] = []

    def walk(node):
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for child in children.values():
                walk(child)
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if proto is None or kind in _SKIP_TYPES:
            return
        if kind == "plotly_chart":
            out.extend(_plotly(proto.spec))
            return
        if kind == "html":
            out.extend(_html(getattr(proto, "body", "")))
            return
        try:
            out.extend(_strings(proto, skip_body=kind in ("code",)))
        except AttributeError:  # not a protobuf message
            pass

    walk(at._tree)
    return out
