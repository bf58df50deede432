"""One hospital, one record store; `--limit`, unreachable and Windows hosts still get
their documents; a failed run is never a finding. Real ansible-playbook runs against
hosts on this machine (local connection) and one address nothing listens on."""

import datetime
import glob
import html
import os
import re
import subprocess
import sys
import textwrap
import zoneinfo

import openpyxl
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONTH = datetime.datetime.now(zoneinfo.ZoneInfo('Asia/Shanghai')).strftime('%Y-%m')

SECOND_HOSPITAL = '''
all:
  vars:
    dialysis_hospital_id: second-city
    dialysis_hospital: 第二人民医院
    dialysis_project_lead: 赵工
    dialysis_engineer: 钱工
    inspection_services: []
    inspection_journal: false
    inspection_cpu_sample_seconds: 0.1
  children:
    hemodialysis:
      hosts:
        b-app-01:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        b-ghost-01:
          ansible_host: 127.0.0.1
          ansible_port: 9
          ansible_user: nobody
          ansible_ssh_common_args: -o StrictHostKeyChecking=no -o ConnectTimeout=3
    ckd:
      hosts:
        b-win-01:
          ansible_host: 127.0.0.1
    windows:
      hosts:
        b-win-01:
'''


@pytest.fixture
def hospitals(tmp_path, ansible_env):
    inventory = tmp_path / 'second' / 'hosts.yml'
    inventory.parent.mkdir()
    inventory.write_text(textwrap.dedent(SECOND_HOSPITAL))
    env = ansible_env(ANSIBLE_HOST_KEY_CHECKING='False')
    return {'dir': tmp_path, 'second': str(inventory), 'env': env,
            'demo': os.path.join(ROOT, 'inventories', 'demo', 'hosts.yml')}


def play(ws, inventory, *extra, playbook='inspect.yml'):
    return subprocess.run(['ansible-playbook', '-i', inventory, os.path.join(ROOT, 'playbooks', playbook)]
                          + list(extra),
                          env=ws['env'], capture_output=True, text=True, timeout=600, check=False)


def document_text(ws, hospital):
    """Every word of a hospital's documents of this month: the report's HTML
    (tags stripped) and every cell of the record sheet."""
    folder = ws['dir'] / 'stores' / hospital / MONTH
    reports = glob.glob(str(folder / '*report*.html'))
    sheets = glob.glob(str(folder / '*sheet*.xlsx'))
    found = os.listdir(folder) if folder.exists() else '-'
    assert reports and sheets, 'no documents in %s: %s' % (folder, found)
    text = []
    for path in reports:
        with open(path, encoding='utf-8') as handle:
            text.append(html.unescape(re.sub(r'<[^>]+>', ' ', handle.read())))
    for path in sheets:
        book = openpyxl.load_workbook(path, read_only=True)
        text.extend(str(c) for ws_ in book for row in ws_.iter_rows(values_only=True) for c in row
                    if c is not None)
    return '\n'.join(text)


def test_two_hospitals_inspected_one_after_the_other_never_mix(hospitals):
    first = play(hospitals, hospitals['demo'])
    assert first.returncode == 0, first.stdout[-3000:]
    second = play(hospitals, hospitals['second'], '--limit', 'b-app-01')
    assert second.returncode == 0, second.stdout[-3000:]
    demo, other = document_text(hospitals, 'demo'), document_text(hospitals, 'second-city')
    assert 'localhost' in demo and 'b-app-01' not in demo and '第二人民医院' not in demo
    assert 'b-app-01' in other and 'localhost' not in other and '赵工' in other
    assert '演示负责人' not in other
    stores = sorted(p.name for p in (hospitals['dir'] / 'stores').iterdir())
    assert stores == ['demo', 'second-city']


def test_limit_to_one_host_still_writes_the_documents(hospitals):
    proc = play(hospitals, hospitals['second'], '--limit', 'b-app-01')
    assert proc.returncode == 0, proc.stdout[-3000:]
    text = document_text(hospitals, 'second-city')
    assert 'b-app-01' in text
    # The hosts left out by the limit are expected this month and said to be missing.
    assert 'b-ghost-01' in text and 'b-win-01' in text


def test_an_unreachable_limited_host_gets_its_documents_and_fails_the_run(hospitals):
    proc = play(hospitals, hospitals['second'], '--limit', 'b-ghost-01')
    assert proc.returncode != 0
    assert 'Not inspected' in proc.stdout and 'b-ghost-01' in proc.stdout
    text = document_text(hospitals, 'second-city')
    assert 'b-ghost-01' in text and '不可达' in text


def test_a_windows_host_is_listed_as_not_inspected_with_the_reason(hospitals):
    proc = play(hospitals, hospitals['second'], '--limit', 'b-app-01:b-win-01')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'b-win-01' not in [ln.split(']')[0].split('[')[-1] for ln in proc.stdout.splitlines()
                              if 'Gather the inspection' in ln]
    text = document_text(hospitals, 'second-city')
    lines = [ln for ln in text.splitlines() if 'b-win-01' in ln]
    assert 'Windows' in text and 'b-win-01' in text, lines


def test_a_bad_extra_value_for_the_report_is_a_run_error_and_no_finding(hospitals):
    good = play(hospitals, hospitals['demo'])
    assert good.returncode == 0, good.stdout[-3000:]
    before = document_text(hospitals, 'demo')
    bad = play(hospitals, hospitals['demo'], '-e', 'report_month=November')
    assert bad.returncode != 0
    assert 'report_month' in bad.stdout
    after = play(hospitals, hospitals['demo'], playbook='report.yml')
    assert after.returncode == 0, after.stdout[-3000:]
    text = document_text(hospitals, 'demo')
    # The failed report run added no anomaly: no "task failed" finding, the same hosts.
    assert 'dialysis_report' not in text and 'report_month' not in text
    assert text.count('localhost') >= before.count('localhost')
    sys.path.insert(0, os.path.join(ROOT, '.collections'))
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore
    store = RecordStore(str(hospitals['dir'] / 'stores' / 'demo' / 'records'))
    errors = list(store.run_errors())
    assert len(errors) == 1 and 'report_month' in errors[0]['msg']
    assert all(r['context']['task'].endswith('Gather the inspection in one module call')
               for r in store.records(kind='inspection'))


@pytest.mark.parametrize('vars_text,missing', [
    ('    dialysis_hospital: 某医院\n', 'dialysis_hospital_id'),
    ('    dialysis_hospital_id: Some Hospital\n    dialysis_hospital: 某医院\n', 'dialysis_hospital_id'),
    ('    dialysis_hospital_id: some-hospital\n', 'dialysis_hospital'),
])
def test_an_inventory_that_does_not_name_its_hospital_gets_no_document(hospitals, vars_text, missing):
    inventory = hospitals['dir'] / 'unnamed.yml'
    inventory.write_text('all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
                         '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
                         '  vars:\n    dialysis_project_lead: 王工\n' + vars_text)
    proc = play(hospitals, str(inventory), playbook='report.yml')
    assert proc.returncode != 0
    assert missing in proc.stdout and 'group_vars/all.yml' in proc.stdout
    stores = hospitals['dir'] / 'stores'
    assert not [p for p in stores.rglob('*') if p.suffix in ('.pdf', '.xlsx', '.docx', '.html')]
    if missing == 'dialysis_hospital_id':
        # The inspection refuses too, before any host is touched.
        proc = play(hospitals, str(inventory))
        assert proc.returncode != 0 and 'dialysis_hospital_id: expected a short id' in proc.stdout
        assert not (hospitals['dir'] / 'state').exists()
