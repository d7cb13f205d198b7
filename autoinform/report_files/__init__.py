"""Report files (AI-5, issue 12 item 4): CSV, XLSX and PDF with charts, from autoinform/reports.py.

scope: what a report covers; indicators: the quality indicators (6.1.6); charts: matplotlib PNGs;
csv_file / xlsx_file / pdf_file: the writers; render: `render_report`, the one entry point the CLI
and the web app call. Nothing here is imported until a report is made (matplotlib is heavy).
"""
