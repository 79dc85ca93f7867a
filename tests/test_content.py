"""The bilingual page text: complete schema, corrections present, search in both languages, no copied prose."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import core.content as content
from core.content import ContentError, LANGS, load_content, search, tr, validate
from core.errors import UserError
from core.manifest import TRAINABLE
from core.sizecalc import human_bytes, memory_bytes, training_memory_bytes

SOURCE_TEXT = Path(__file__).resolve().parent.parent.parent / "shared" / "source" / "000_44760c875a9d12aa.txt"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def data():
    return load_content()


def bilingual_texts(value, path="", skip=()):
    """(path, {'en', 'zh'}) for every bilingual text inside value."""
    if content.is_bilingual(value):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            if k not in skip:
                yield from bilingual_texts(v, f"{path}.{k}", skip)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from bilingual_texts(v, f"{path}[{i}]", skip)


def test_schema_is_complete(data):
    assert validate(data) == []
    assert len(data["faq"]) == 6
    assert len(data["trends"]) == 3
    assert len(data["challenges"]) == 3
    assert [r["n"] for r in data["references"]] == [1, 2, 3, 4, 5, 6, 7]
    assert {c["id"] for c in data["concepts"]} >= {"neural_network", "deep_learning", "large_model"}


def test_validate_catches_problems(data):
    broken = json.loads(json.dumps(data))
    broken["faq"][0]["answer"]["zh"] = "  "
    del broken["trends"][1]["example"]
    broken["references"][2]["status"] = "maybe"
    problems = validate(broken)
    assert any("faq[what_is_a_large_model].answer.zh" in p for p in problems)
    assert any("trends[architectures].example" in p for p in problems)
    assert any("references[3].status" in p for p in problems)


def test_every_text_is_in_its_language(data):
    texts = list(bilingual_texts(data))
    assert len(texts) > 100
    for path, t in texts:
        assert CJK.search(t["zh"]), f"{path}.zh has no Chinese"
        assert not CJK.search(t["en"]), f"{path}.en has Chinese characters"


def test_required_corrections_are_there(data):
    by_id = {c["id"]: c for c in data["corrections"]}
    for needed in ("autoencoder_loss", "gan_loss", "attention_mlp", "transformer_structure", "transformer_loss",
                   "large_model_examples", "keras_autoencoder", "keras_gan", "ref3_authors", "ref4_conflated",
                   "ref6_ttur"):
        assert needed in by_id, needed
    assert "reconstruction" in by_id["autoencoder_loss"]["correct"]["en"]
    assert "non-saturating" in by_id["gan_loss"]["correct"]["en"]
    assert "log D(G(z))" in by_id["gan_loss"]["correct"]["en"]
    assert "scaled dot-product" in by_id["attention_mlp"]["correct"]["en"]
    assert "no cross-attention" in by_id["transformer_structure"]["correct"]["en"]
    assert "layers.Sequential" in by_id["keras_autoencoder"]["correct"]["en"]
    assert "encoding_dim" in by_id["keras_autoencoder"]["correct"]["en"]
    assert "fit(x, x)" in by_id["keras_gan"]["correct"]["en"]
    for c in data["corrections"]:
        if "fixed_code" in c:  # the corrected listings must at least be valid Python
            compile(c["fixed_code"], c["id"], "exec")
            assert "layers.Sequential(" not in c["fixed_code"]


def test_references_are_corrected(data):
    refs = {r["n"]: r for r in data["references"]}
    assert {n for n, r in refs.items() if r["status"] == "corrected"} == {3, 4, 6}
    assert "Norouzi" in refs[3]["as_cited"] and "Norouzi" not in refs[3]["corrected"]
    assert "Kaiser" in refs[3]["corrected"] and "Polosukhin" in refs[3]["corrected"]
    assert "1511.06434" in refs[4]["corrected"] and "Ramesh" in refs[4]["corrected"]
    assert "CLIP" in refs[4]["corrected"]
    assert "Heusel" in refs[6]["corrected"] and "1706.08500" in refs[6]["corrected"]
    assert "Nature, 521(7553), 436" in refs[2]["corrected"]


def test_faq_corrections_are_bilingual_or_null(data):
    assert sum(f["correction"] is not None for f in data["faq"]) >= 4
    assert all("correction" in f for f in data["faq"])


def test_numbers_quoted_in_the_text_match_the_calculator(data):
    why = content.find(data["faq"], "why_data_and_compute")["answer"]["en"]
    assert human_bytes(memory_bytes(175e9, "fp16")) in why            # 350 GB
    assert human_bytes(training_memory_bytes(175e9)) in why           # 2.8 TB
    cost = content.find(data["challenges"], "cost_energy")["example"]["en"]
    assert human_bytes(memory_bytes(175e9, "fp32")) in cost           # 700 GB
    assert human_bytes(memory_bytes(175e9, "fp16")) in cost


def test_project_map_names_real_models_and_pages(data):
    root = Path(__file__).resolve().parent.parent
    for item in data["project_map"]:
        assert set(item["models"]) <= set(TRAINABLE), item["id"]
        assert item["page"].startswith("app_pages/") and item["page"].endswith(".py"), item["id"]
        if (root / "app_pages").is_dir() and len(list((root / "app_pages").glob("*.py"))) >= 6:  # once the dashboard is built
            assert (root / item["page"]).is_file(), item["page"]


@pytest.mark.skipif(not SOURCE_TEXT.exists(), reason="the source text is not in ../shared/source")
def test_no_sentences_copied_from_the_source(data):
    """Apart from the short quotes in `source_says`, no 16-character run of the source's Chinese prose appears in
    ours (runs that are mostly code or Latin script, such as `layers.Sequential`, are quoted on purpose)."""
    src = re.sub(r"\s+", "", SOURCE_TEXT.read_text(encoding="utf-8"))
    n = 16
    grams = {g for g in (src[i:i + n] for i in range(len(src) - n + 1)) if len(CJK.findall(g)) >= n // 2}
    for path, t in bilingual_texts(data, skip=("source_says",)):
        zh = re.sub(r"\s+", "", t["zh"])
        copied = [zh[i:i + n] for i in range(len(zh) - n + 1) if zh[i:i + n] in grams]
        assert not copied, f"{path}.zh copies the source: {copied[0]}"


def test_accessors_return_one_language():
    for lang in LANGS:
        for item in content.faq(lang):
            assert isinstance(item["question"], str) and isinstance(item["answer"], str)
            assert item["correction"] is None or isinstance(item["correction"], str)
        assert isinstance(content.trends(lang)[0]["example"], str)
        assert isinstance(content.source(lang)["title"], str)
    assert CJK.search(content.faq("zh")[0]["question"])
    assert not CJK.search(content.faq("en")[0]["question"])
    assert len(content.references("zh")) == 7 and isinstance(content.references("zh")[0]["note"], str)


def test_load_content_returns_a_private_copy():
    a = load_content()
    a["faq"].clear()
    assert len(load_content()["faq"]) == 6


def test_bad_language_and_section_are_user_errors():
    with pytest.raises(ContentError, match="fr"):
        content.faq("fr")
    with pytest.raises(UserError, match="Unknown content section"):
        content.section("nope", "en")
    with pytest.raises(ContentError):
        search([], "x", "de")


def test_missing_or_corrupt_file_is_a_clear_error(tmp_path):
    with pytest.raises(ContentError, match="missing"):
        load_content(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ContentError, match="unreadable"):
        load_content(bad)
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"faq": []}), encoding="utf-8")
    with pytest.raises(ContentError, match="lacks"):
        load_content(partial)


def test_search_english(data):
    faq = data["faq"]
    hits = search(faq, "overfit", "en")
    assert hits and all("overfit" in json.dumps(h, ensure_ascii=False).lower() for h in hits)
    assert len(hits) < len(faq)
    assert search(faq, "CHINCHILLA", "en") == search(faq, "chinchilla", "en") != []
    assert [h["id"] for h in search(faq, "chinchilla", "en")] == ["why_data_and_compute"]
    assert search(faq, "quantisation distillation", "en")  # all terms, anywhere in the item
    assert search(faq, "zebra-unicorn", "en") == []


def test_search_chinese(data):
    faq = data["faq"]
    hits = search(faq, "过拟合", "zh")
    assert hits and len(hits) < len(faq)
    assert all("过拟合" in (h["answer"]["zh"] + h["question"]["zh"] + (h["correction"] or {}).get("zh", ""))
               for h in hits)
    assert [h["id"] for h in search(faq, "什么是大模型", "zh")] == ["what_is_a_large_model"]
    assert search(faq, "ＧＰＴ－３", "zh") == search(faq, "gpt-3", "zh") != []  # full-width input folds


def test_search_other_language_and_localised_items(data):
    faq = data["faq"]
    assert search(faq, "过拟合", "en")  # both languages by default
    assert search(faq, "过拟合", "en", both=False) == []
    local = content.faq("zh")
    assert [h["id"] for h in search(local, "过拟合", "zh")] == [h["id"] for h in search(faq, "过拟合", "zh")]
    assert search(data["corrections"], "norouzi", "en")
    assert search(data["corrections"], "tf.GradientTape", "en") == []  # code is not searched


def test_empty_query_returns_everything(data):
    for q in ("", "   ", None):
        assert search(data["faq"], q, "zh") == data["faq"]


def test_no_torch_or_streamlit_imported():
    code = ("import sys, core.content, core.sizecalc; core.content.faq('zh'); "
            "bad = [m for m in ('torch', 'streamlit', 'numpy') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parent.parent)
