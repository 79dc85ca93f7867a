"""The sentences the Real Transformer page offers (pure data; no streamlit, no torch).

Each preset shows something: a pronoun to resolve, a long word cut into WordPiece pieces, one word with two
meanings, the source text's own Chinese (what an uncased English vocabulary does with it: mostly [UNK]), the source
text's topic in English, and a date like the ones the lab's small Transformer reads.
"""

from __future__ import annotations

# The source text's §2.3 sentence (../shared/source/000_44760c875a9d12aa.txt, line 31), as written there.
SOURCE_ZH = ("大模型的典型例子包括自然语言处理领域的BERT、GPT和Transformer模型，计算机视觉领域的ResNet和Inception模型，"
             "以及语音识别领域的WaveNet和DeepSpeech模型。")

PRESETS = (
    "The cat sat on the mat because it was tired.",
    "Electroencephalography is unbelievably hard to spell.",
    "The bank raised interest rates, so we walked along the river bank.",
    SOURCE_ZH,
    "Large models are deep neural networks trained on huge amounts of data.",
    "On Saturday, 28 November 2026, the small Transformer turns dates into ISO format.",
)
DEFAULT = PRESETS[0]

# What the model was trained for: two sentences to compare, and a few for a similarity matrix. The two Chinese
# sentences (shortened from the source text's §2.3 and §2.1) mean different things; most of their characters are
# [UNK] to this model, so it finds them alike.
PAIR = ("A man is eating food.", "Someone is having a meal.")
SET = (
    "A man is eating food.",
    "Someone is having a meal.",
    "The stock market fell sharply today.",
    "Shares dropped on Wall Street.",
    "大模型需要大量的数据和计算资源来训练。",
    "神经网络是人工智能领域的基础。",
)
MAX_SET = 8  # sentences in the matrix: one batch, bounded work


def all_texts() -> tuple[str, ...]:
    """Every sentence the page can show without a visitor typing (the language test counts them as data)."""
    return PRESETS + PAIR + SET
