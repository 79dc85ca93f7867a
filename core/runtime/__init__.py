"""Runtime side: numpy + onnxruntime only. Never imports torch or streamlit."""
