"""Big-Model Lab, the dashboard: ``streamlit run streamlit_app.py``.

This file is the router's entry point only: ``ui/app.py`` lists the pages (``app_pages/*.py``), draws the sidebar
(language, execution provider) and runs the chosen page inside a guard.
"""

from ui.app import main

main()
