"""What the browser runtime needs from the server side (no streamlit, no torch): the vendored onnxruntime-web files
and their manifest (``ortweb``), and the content-addressed copies of the exported models that the app serves to the
browser (``publish``). The JavaScript that uses them lives under static/live/.
"""
