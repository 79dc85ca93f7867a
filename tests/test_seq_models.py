"""The two date models in PyTorch, and a fresh ONNX export of small untrained copies checked against PyTorch."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from core.data import dates
from core.models import seq2seq_attention as s2s
from core.models import transformer as tfm
from core.runtime.decode import decode_ids, make_seq_model
from core.runtime.session import open_session
from core.tokenizer import VOCAB, encode_source
from core.training import sequence as seq

SMALL = {
    "transformer": dict(d_model=32, n_head=4, n_enc_layer=2, n_dec_layer=2, d_ff=64),
    "seq2seq_attention": dict(d_emb=16, d_enc=24, d_dec=32, d_attn=16),
}


def small(kind, seed=0):
    torch.manual_seed(seed)
    model, cfg = seq.build_model(kind, **SMALL[kind])
    return model.eval(), cfg


def test_models_are_built_from_frozen_configs():
    for cfg in (tfm.TransformerConfig(), s2s.Seq2SeqConfig()):
        with pytest.raises(dataclasses.FrozenInstanceError):
            cfg.vocab_size = 3
    modules = tfm.Transformer(tfm.TransformerConfig()).modules()
    assert not any(isinstance(m, torch.nn.MultiheadAttention) for m in modules)


def test_transformer_cached_steps_equal_the_teacher_forced_pass():
    model, cfg = small("transformer")
    src, tgt_in, _ = seq.make_batch(dates.test_split(24)[:5])
    with torch.no_grad():
        memory, enc_attn = model.encode(src)
        logits, dec_self, cross = model.decode(memory, src, tgt_in)  # (B,T,V), (L,B,H,T,T), (L,B,H,T,S)
        cache = model.empty_cache(src.shape[0])
        for t in range(tgt_in.shape[1]):
            lg, cache, s, c = model.step(tgt_in[:, t], memory, src != VOCAB.pad_id, cache)
            assert torch.allclose(lg, logits[:, t], atol=1e-5)
            assert torch.allclose(s, dec_self[:, :, :, t, :t + 1], atol=1e-6)
            assert torch.allclose(c, cross[:, :, :, t], atol=1e-6)
            assert cache.shape[4] == t + 1  # one new position per step
    assert enc_attn.shape == (cfg.n_enc_layer, 5, cfg.n_head, src.shape[1], src.shape[1])


@pytest.mark.parametrize("kind", ["transformer", "seq2seq_attention"])
def test_padding_does_not_change_a_sentence(kind):
    """An input decodes the same alone or padded in a batch (both GRU directions skip padding)."""
    model, cfg = small(kind)
    texts = ["Sat 28 Nov 2026", "Wednesday, September 30, 2026", "1.1.1900"]
    ids = [encode_source(t) for t in texts]
    sm = seq.torch_seq_model(kind, model, cfg)
    together = decode_ids(sm, ids, batch=8)
    for one, i in zip(together, ids):
        alone = decode_ids(sm, [i])[0]
        assert one["ids"] == alone["ids"]
        np.testing.assert_allclose(one["cross"], alone["cross"], atol=1e-5)


@pytest.fixture(scope="module", params=["transformer", "seq2seq_attention"])
def fresh_export(request, tmp_path_factory):
    """Both graphs of a small untrained model exported into a tmp dir (validated inside at two sizes)."""
    kind = request.param
    model, cfg = small(kind)
    out = tmp_path_factory.mktemp(kind)
    card = {"name": kind, "config": cfg.__dict__, "decoding": seq.decoding_section()}
    ex = seq.export_graphs(kind, model, cfg, out, card)
    return kind, model, cfg, ex


def test_fresh_export_matches_pytorch_at_other_lengths(fresh_export):
    kind, model, cfg, ex = fresh_export
    enc_path, step_path = ex["paths"]
    assert ex["checks"]["encoder_max_abs_diff"] <= 1e-4 and ex["checks"]["decoder_step_max_abs_diff"] <= 1e-4
    enc, step = open_session(enc_path, "cpu"), open_session(step_path, "cpu")
    assert enc.card["graph"] == "encoder" and step.card["graph"] == "decoder_step"
    # the greedy loop through ORT, then PyTorch fed the same tokens: same logits and attention step by step
    examples = dates.test_split(48)
    ids = [encode_source(e.source) for e in examples]
    ort_model = make_seq_model(kind, enc.card, enc.run, step.run)
    a = decode_ids(ort_model, ids, batch=13)  # batches of several sizes and lengths
    b = decode_ids(seq.torch_seq_model(kind, model, cfg), ids, batch=13, force=[r["ids"] for r in a])
    lengths = {len(i) for i in ids}
    assert len(lengths) > 5
    for x, y in zip(a, b):
        np.testing.assert_allclose(x["logits"], y["logits"], atol=1e-4)
        np.testing.assert_allclose(x["cross"], y["cross"], atol=1e-4)
        if kind == "transformer":
            np.testing.assert_allclose(x["enc_self"], y["enc_self"], atol=1e-4)
            np.testing.assert_allclose(x["dec_self"], y["dec_self"], atol=1e-4)
        top2 = np.sort(y["logits"], axis=-1)[:, -2:]
        decisive = top2[:, 1] - top2[:, 0] > 1e-3
        assert (np.array(x["ids"])[decisive] == y["logits"].argmax(-1)[decisive]).all()


def test_fresh_export_attention_is_a_distribution(fresh_export):
    """Through ORT: every attention row sums to 1 and padded source positions get exactly 0."""
    kind, _, cfg, ex = fresh_export
    enc_path, step_path = ex["paths"]
    enc, step = open_session(enc_path, "cpu"), open_session(step_path, "cpu")
    src = np.full((2, 20), VOCAB.pad_id, dtype=np.int64)
    src[0, :20] = encode_source("Wednesday, 30 Sep 2026"[:20])
    src[1, :7] = encode_source("1.1.190")
    mask = src != VOCAB.pad_id
    e = enc.run({"src": src})
    if kind == "transformer":
        a = e["enc_self_attn"]  # (L, B, H, S, S)
        np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-5)
        assert (a[:, 1, :, :, 7:] == 0).all()
        cache = np.zeros((cfg.n_dec_layer, 2, 2, cfg.n_head, 0, cfg.d_model // cfg.n_head), np.float32)
        token = np.array([VOCAB.bos_id] * 2)
        for t in range(3):
            o = step.run({"token": token, "memory": e["memory"], "src_mask": mask, "cache": cache})
            cache, token = o["new_cache"], o["logits"].argmax(-1)
            assert o["dec_self_attn"].shape[-1] == t + 1
            np.testing.assert_allclose(o["dec_self_attn"].sum(-1), 1.0, atol=1e-5)
            np.testing.assert_allclose(o["cross_attn"].sum(-1), 1.0, atol=1e-5)
            assert (o["cross_attn"][:, 1, :, 7:] == 0).all()
    else:
        o = step.run({"token": np.array([VOCAB.bos_id] * 2), "state": e["state"], "enc_states": e["enc_states"],
                      "enc_keys": e["enc_keys"], "src_mask": mask})
        np.testing.assert_allclose(o["attn"].sum(-1), 1.0, atol=1e-5)
        assert (o["attn"][1, 7:] == 0).all() and (o["attn"][1, :7] > 0).all()
        assert (e["enc_states"][1, 7:] == 0).all()


def test_training_is_seeded_and_writes_history_and_checkpoint(tmp_path, monkeypatch):
    """Two short runs with the same seed give identical weights; another seed does not."""
    from core.training.common import TrainOptions, load_checkpoint

    monkeypatch.setitem(seq.TRAIN_CONFIGS, "seq2seq_attention",
                        seq.SeqTrainConfig(epochs=1, examples_per_epoch=384, batch_size=128))
    small_val = dates.val_split(120)
    monkeypatch.setattr(dates, "val_split", lambda n=None: small_val)  # keeps the test fast
    weights = []
    for run, seed in (("a", 0), ("b", 0), ("c", 1)):
        opts = TrainOptions(model="seq2seq_attention", seed=seed, out=tmp_path / run, runs=tmp_path / run / "runs",
                            quiet=True)
        seq.train("seq2seq_attention", opts)
        ckpt = load_checkpoint(tmp_path / run / "runs" / "seq2seq_attention" / "best.pt")
        weights.append(ckpt["model"])
        hist = json.loads((tmp_path / run / "runs" / "seq2seq_attention" / "history.json").read_text())
        assert not (tmp_path / run / "history").exists()  # training alone never writes into the exported set
        assert hist["seed"] == seed and len(hist["epochs"]) == 1 and "val_exact_match" in hist["epochs"][0]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])
