#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: treatment_check
short_description: Count the dialysis treatments running now (read-only)
description:
  - The live half of the treatment-hours guard (role C(dialysis.ops.treatment_guard)) - asks
    the clinical system how many treatments are running now, either from the dialysis
    service's own endpoint (an HTTP GET returning JSON with the count under O(key)) or from
    a read-only SQL query through the database's command-line client (psql or mariadb) in a
    read-only session with a statement timeout.
  - A check that cannot answer is never a count of zero - the module returns RV(running)
    as null with RV(error), and the guard treats the system as possibly treating.
  - Only reads; runs in check mode as in a normal run.
version_added: "1.2.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  url:
    description: The service endpoint that returns the count (e.g. C(http://127.0.0.1:8080/treatments/running)).
    type: str
  key:
    description: The JSON key of the answer that holds the count.
    type: str
    default: running
  timeout:
    description: Seconds to wait for the answer.
    type: float
    default: 10
  query:
    description: One read-only SQL statement whose first column of the first row is the count.
    type: str
  database:
    description:
      - The database for O(query); the password comes from ansible-vault or the environment and
        reaches the client through its environment, never its command line.
    type: dict
    suboptions:
      engine:
        description: The database engine.
        type: str
        required: true
        choices: [postgresql, mariadb, mysql]
      host:
        description: Address of the database server as seen from the check host (default 127.0.0.1).
        type: str
      port:
        description: Port of the server (5432 or 3306 when left out).
        type: int
      database:
        description: Database name.
        type: str
        required: true
      user:
        description: A read-only account.
        type: str
        required: true
      password:
        description: Its password; without one the check cannot answer and the guard refuses.
        type: str
      connect_timeout:
        description: Seconds to wait for the connection (default 5).
        type: int
      statement_timeout:
        description: Seconds the query may run (default 10).
        type: int
notes:
  - Exactly one of O(url) and O(query) is given.
'''

EXAMPLES = r'''
- name: Count the treatments running on the hemodialysis system
  dialysis.ops.treatment_check:
    url: http://127.0.0.1:8080/treatments/running
  register: running

- name: Count them with a read-only query
  dialysis.ops.treatment_check:
    query: "SELECT count(*) FROM treatment_session WHERE status = 'running'"
    database:
      engine: postgresql
      host: 127.0.0.1
      database: hemodialysis
      user: dialysis_ro
      password: "{{ vault_dialysis_ro_password }}"
  no_log: true
'''

RETURN = r'''
running:
  description: Treatments running now; null when the check could not answer.
  returned: always
  type: int
  sample: 12
error:
  description: Why there is no count (the endpoint or the query did not answer, or answered something else).
  returned: when running is null
  type: str
source:
  description: Where the count came from (the URL, or engine/host/database of the query).
  returned: always
  type: str
'''

import json

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import (
    QueryError,
    database_options,
    run_query,
    validate_clinical,
)


def _count(value):
    """The count as an int >= 0, or None."""
    if isinstance(value, bool):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def count_from_url(url, key, timeout, opener=open_url):
    """(running, error) from the service endpoint."""
    try:
        response = opener(url, method='GET', timeout=timeout, validate_certs=True,
                          headers={'Accept': 'application/json'})
        body = response.read(65536)
    except Exception as exc:  # pylint: disable=broad-except
        return None, 'no answer from %s: %s' % (url, str(exc)[:200])
    try:
        data = json.loads(body.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return None, 'the answer of %s is not JSON' % url
    if not isinstance(data, dict) or key not in data:
        return None, 'the answer of %s has no key %r' % (url, key)
    running = _count(data[key])
    if running is None:
        return None, 'the answer of %s holds %r under %r, not a count' % (url, data[key], key)
    return running, None


def count_from_query(database, query, run_command, get_bin_path):
    """(running, error) from a read-only query; the password never appears in the error."""
    entry = dict((k, v) for k, v in database.items() if v is not None)
    normalised, errors = validate_clinical({'databases': [dict(entry, name='treatments')]}, 'database')
    if errors:
        return None, '; '.join(errors)
    db = normalised['databases']['treatments']
    try:
        rows = run_query(db, query, run_command, get_bin_path)
    except QueryError as exc:
        return None, str(exc)
    if not rows or not rows[0]:
        return None, 'the query returned no row'
    running = _count(rows[0][0])
    if running is None:
        return None, 'the query returned %r, not a count' % (rows[0][0],)
    return running, None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type='str'),
            key=dict(type='str', default='running', no_log=False),
            timeout=dict(type='float', default=10),
            query=dict(type='str'),
            database=dict(type='dict', options=database_options()),
        ),
        required_one_of=[('url', 'query')],
        mutually_exclusive=[('url', 'query')],
        required_by={'query': 'database'},
        supports_check_mode=True,
    )
    params = module.params
    if params['url']:
        source = params['url']
        running, error = count_from_url(params['url'], params['key'], params['timeout'])
    else:
        db = params['database']
        source = '%s %s/%s' % (db.get('engine'), db.get('host', '127.0.0.1'), db.get('database'))
        running, error = count_from_query(db, params['query'], module.run_command, module.get_bin_path)
    result = dict(changed=False, running=running, source=source)
    if error:
        result['error'] = error
    module.exit_json(**result)


if __name__ == '__main__':
    main()
