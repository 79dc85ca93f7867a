"""A real pretrained Transformer: sentence-transformers' all-MiniLM-L6-v2 (BertModel, 6 layers x 12 heads, d 384).

Runtime side (numpy + onnxruntime + tokenizers, no torch, no transformers):
- ``weights``  where the pinned weights come from, their sha256 check, a numpy reader for model.safetensors.
- ``runtime``  the model: tokenise with its own tokenizer.json, run the weightless graph with the weights handed
               to onnxruntime, attentions, hidden states, the sentence embedding and cosine similarity.
- ``heads``    head-pattern scores (previous / next token, [CLS], [SEP], same word, broad) and the table CLI.
- ``figures``  pure Plotly builders for the page (head view, model view, similarity).
Torch side (dev only, never imported by the above): ``export`` (python -m core.pretrained.export).
Importing this package imports nothing else.
"""
