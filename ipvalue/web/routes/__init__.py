"""The workbench's routes, one :class:`fastapi.APIRouter` per concern.

:func:`ipvalue.web.app.build_workbench` includes them in this order:

- :mod:`.sign_in`: home, sign-in, sign-out, language switch;
- :mod:`.intake`: upload, check, loan terms, run (inline or as a job), job progress;
- :mod:`.results`: history, result, patent table, charts, reports, patent page, borrower profile, sign-off;
- :mod:`.monitoring`: live loans, one loan's alerts, a monitoring run;
- :mod:`.admin`: users, API keys, audit log.

Every route gets the app's :class:`~ipvalue.web.workbench.Workbench` as ``wb: WB``.
"""
