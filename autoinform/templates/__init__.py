"""Routine campaigns (issue 14): recurring templates, the billing drop folder, and the forming of
each period's campaign as a draft that a manager must approve (AI-3, AI-4, AI-7, AI-15).

periods.py   when a template's period runs (pure)
drop.py      the drop folder: settle, import once by content hash, move to done/ or rejected/
service.py   templates as data: create, list, show, pause, resume, history (the CLI and web call these)
forming.py   the tick: form drafts, start approved ones, give up on unapproved ones, notify
jobs.py      the APScheduler jobs the engine runs, rebuilt from the database
"""
