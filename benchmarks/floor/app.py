"""The smallest Streamlit page: ``?n=`` Markdown elements (``&k=box``: each in a bordered container). Served only by
benchmarks/floor_bench.py, to measure what Streamlit itself costs per run and per element on this machine."""

import streamlit as st

n = min(int(st.query_params.get("n", "0")), 1000)
boxed = st.query_params.get("k") == "box"
for i in range(n):
    if boxed:
        with st.container(border=True):
            st.markdown(f"line {i}")
    else:
        st.markdown(f"line {i}")
