# Bench only (bench/cases.py sets ANSIBLE_CALLBACK_PLUGINS to this directory for the
# report timing): writes the `paths` the report action returns, so the bench counts
# the documents from what the action says it wrote, whatever their file names.
"""Appends one JSON line per task result that returns a `paths` mapping to the
file named by $BENCH_REPORT_PATHS (nothing when it is unset)."""

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_report_paths'
    CALLBACK_NEEDS_ENABLED = False      # found on ANSIBLE_CALLBACK_PLUGINS: loaded without listing

    def v2_runner_on_ok(self, result):
        target = os.environ.get('BENCH_REPORT_PATHS')
        res = result._result if isinstance(result._result, dict) else {}
        paths = res.get('paths')
        if not target or not isinstance(paths, dict):
            return
        line = {'host': result._host.get_name(), 'action': result._task.action,
                'task': result._task.get_name(), 'label': res.get('label'),
                'paths': paths}
        with open(target, 'a', encoding='utf-8') as handle:
            handle.write(json.dumps(line, ensure_ascii=False, sort_keys=True, default=str) + '\n')
