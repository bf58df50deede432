# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One documents run (contract clauses R1, R13, R14), controller side, used by
the ``dialysis_report`` action plugin. The pieces:

* ``dialysis_doc_period``  — periods and time zone captions, ``ReportError``;
* ``dialysis_doc_model``   — models read from the record store;
* ``dialysis_doc_spec``    — how a document type is declared, the registry;
* ``dialysis_doc_types``   — the declared documents (the only per-type code);
* ``dialysis_doc_writers`` — XLSX, HTML, PDF and DOCX writers for any of them;
* ``dialysis_annotations`` — the engineers' feedback/resolution files.

``build_report`` reads the models, validates the engineers' annotations before
anything is written, skips documents whose digest is unchanged (manifest per
document and language), writes the others to a staging folder and moves them
into place only when every one of them is complete.
"""

from __future__ import absolute_import, division, print_function

import datetime
import hashlib
import json
import os
import shutil
import tempfile

from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_doc_types
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_annotations import (
    RESTART_DECISIONS,
    AnnotationError,
    check_known,
    merge_annotations,
    merge_decisions,
    period_entries,
    restart_entries,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_model import apply_annotations
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_period import (  # noqa: F401
    ReportError,
    get_timezone,
    months_of,
    period_bounds,
    tz_caption,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import (
    FORMATS,
    Document,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import get as get_type
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_writers import write
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import (
    RecordStore,
    atomic_write_text,
)

__metaclass__ = type

REPORT_VERSION = 2
DEFAULT_DOCUMENTS = dialysis_doc_types.DEFAULT_DOCUMENTS
# Measured cost of writing one table row in each format (microseconds, a quarter
# of 50 hosts on a 2-core machine), to share the work between this process and
# one forked child.
COST = {'xlsx': 56.0, 'docx': 16.0, 'html': 9.0, 'pdf': 470.0}
COST_BASE = {'xlsx': 20000.0, 'docx': 30000.0, 'html': 10000.0, 'pdf': 300000.0}
# The writer of each format (tests replace one to make it fail).
WRITERS = {'xlsx': write, 'html': write, 'pdf': write, 'docx': write}


def digest(*parts):
    sha = hashlib.sha256()
    for part in parts:
        sha.update(json.dumps(part, sort_keys=True, default=str, ensure_ascii=False).encode('utf-8'))
    return sha.hexdigest()


def model_digest(model):
    sha = hashlib.sha256()
    for row in model.get('rows', ()):
        sha.update(('%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1e' % (
            row.get('time'), row.get('host'), row.get('item_id'), row.get('value'),
            row.get('_status'), row.get('engineer'), row.get('description'),
            row.get('detail'))).encode('utf-8'))
    rest = dict((k, v) for k, v in model.items() if k not in ('rows', 'hosts'))
    rest['trends'] = sorted((h, [[str(p) for p in point] for point in e.get('trend', ())])
                            for h, e in (model.get('hosts') or {}).items())
    sha.update(json.dumps(rest, sort_keys=True, default=str, ensure_ascii=False).encode('utf-8'))
    return sha.hexdigest()


def publish(staging, outputs, out_dir):
    """Move every staged document into out_dir (each by an atomic rename)."""
    if not os.path.isdir(out_dir):
        os.makedirs(out_dir, 0o750)
    final = {}
    for key, name in outputs.items():
        target = os.path.join(out_dir, name)
        os.replace(os.path.join(staging, name), target)
        final[key] = target
    return final


def staging_dir(out_dir):
    parent = os.path.dirname(out_dir.rstrip('/')) or '.'
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o750)
    return tempfile.mkdtemp(prefix='.staging-', dir=parent)


def _hospital_path(path, hospital_id):
    return path.replace('{hospital}', hospital_id) if hospital_id and path else path


def _read_manifest(path):
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
        return data.get('documents') or {} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def build_report(params, template_dir, now=None):
    """Everything one documents run does; returns a result dict for the action.

    params: records_dir, output_dir (the hospital's documents root; one folder
    per period below it), annotations_dir, period, month, quarter, language,
    timezone, expected_hosts {host: system}, not_inspectable [host],
    project_lead, hospital, hospital_id, dr_plan (the DR plan's inventory facts),
    documents [names] (default: the inspection sheet and report), formats [xlsx, html, pdf, docx] (empty: each
    document's own), check_mode.
    """
    language = params['language']
    t = Translator(language)
    tzname = params['timezone']
    tz = get_timezone(tzname)
    label, start, end = period_bounds(params['period'], params.get('month'), params.get('quarter'),
                                      tzname)
    hospital_id = params.get('hospital_id') or ''
    records_dir = _hospital_path(params['records_dir'], hospital_id)
    output_dir = _hospital_path(params['output_dir'], hospital_id)
    annotations_dir = _hospital_path(params['annotations_dir'], hospital_id)
    formats = list(params.get('formats') or [])
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise ReportError('report_formats: unknown format(s) %s; expected %s'
                          % (', '.join(unknown), ', '.join(FORMATS)))
    try:
        types = [get_type(name) for name in (params.get('documents') or DEFAULT_DOCUMENTS)]
    except KeyError as exc:
        raise ReportError(exc.args[0]) from None
    for doc_type in types:
        if params['period'] not in doc_type.periods:
            raise ReportError('report_documents: %s is not made for a %s'
                              % (doc_type.name, params['period']))
    now = now or datetime.datetime.now(tz)
    ctx = {'t': t, 'label': label, 'period': params['period'], 'start': start, 'end': end,
           'tz': tz, 'tzname': tzname, 'tzcap': tz_caption(tzname, start), 'language': language,
           'expected_hosts': dict(params.get('expected_hosts') or {}),
           'not_inspectable': list(params.get('not_inspectable') or []),
           'project_lead': params.get('project_lead') or '', 'hospital': params.get('hospital') or '',
           'hospital_id': hospital_id, 'dr_plan': dict(params.get('dr_plan') or {})}

    # 1. Models (read only), then the engineers' annotations: a malformed file
    #    stops everything here, before anything is written.
    store = RecordStore(records_dir)
    models = {}
    for doc_type in types:
        if doc_type.model not in models:
            models[doc_type.model] = doc_type.model(store, ctx)
    anomalies = {}
    for model in models.values():
        anomalies.update(model.get('anomalies') or {})
    ann_path = os.path.join(annotations_dir, '%s.yml' % label)
    try:
        annotations, entries = period_entries(annotations_dir, label, months_of(label), anomalies)
        check_known(annotations, anomalies)
        new_annotation_text = annotations.render_with(anomalies, label, language)
        new_ids = [a['id'] for a in annotations.new_entries(anomalies)]
    except AnnotationError as exc:
        raise ReportError(str(exc)) from None
    merge_annotations(anomalies, entries)
    for model in models.values():
        apply_annotations(model, t)
    # The restart decisions of the performance analysis, and the engineers' changes to
    # them (<label>-restart.yml): validated here too, before anything is written.
    decisions = [d for model in models.values() for d in model.get('decisions') or ()]
    restart_path = os.path.join(annotations_dir, RESTART_DECISIONS.file_name(label))
    new_restart_text = None
    if decisions:
        from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_perf import decision_entries
        try:
            restart = restart_entries(annotations_dir, label)
            check_known(restart, [d['id'] for d in decisions])
            new_restart_text = restart.render_with(decision_entries(decisions, t), label, language)
        except AnnotationError as exc:
            raise ReportError(str(exc)) from None
        merge_decisions(decisions, restart.entries)

    # 2. What to write, and what is already up to date.
    out_dir = os.path.join(output_dir, label)
    manifest_path = os.path.join(out_dir, '.manifest.json')
    manifest = _read_manifest(manifest_path)
    fingerprints = dict((fn, model_digest(m)) for fn, m in models.items())
    plan, paths, current = [], {}, {}
    for doc_type in types:
        wanted = list(formats or doc_type.formats)
        files = dict((fmt, doc_type.file_name(ctx, fmt)) for fmt in wanted)
        key = '%s.%s' % (doc_type.name, language)
        fingerprint = digest(REPORT_VERSION, doc_type.name, language, tzname, ctx['project_lead'],
                             ctx['hospital'], sorted(files.items()), fingerprints[doc_type.model])
        for fmt, name in files.items():
            paths['%s.%s' % (doc_type.name, fmt)] = os.path.join(out_dir, name)
        previous = manifest.get(key) or {}
        current[key] = {'digest': fingerprint, 'files': files}
        if previous.get('digest') == fingerprint and all(
                os.path.exists(os.path.join(out_dir, n)) for n in files.values()):
            current[key]['generated_at'] = previous.get('generated_at')
            continue
        plan.append((doc_type, files))

    first = models[types[0].model]
    result = {'label': label, 'paths': paths, 'annotations': ann_path, 'output_dir': out_dir,
              'documents': [d.name for d in types], 'language': language,
              'rows': len(first.get('rows', ())), 'anomalies': len(anomalies),
              'open': sum(1 for a in anomalies.values() if not a.get('resolved')),
              'missing_hosts': sorted(m['host'] for m in first.get('not_inspected', ())
                                      if m.get('kind') != 'not_inspectable'),
              'not_inspectable_hosts': sorted(m['host'] for m in first.get('not_inspected', ())
                                              if m.get('kind') == 'not_inspectable'),
              'new_anomalies': new_ids, 'bad_lines': first.get('bad_lines', []), 'changed': False}
    if decisions:
        result['restart_decisions'] = restart_path
    if params.get('check_mode'):
        result['changed'] = bool(plan) or new_annotation_text is not None or new_restart_text is not None
        return result
    if new_annotation_text is not None:
        atomic_write_text(ann_path, new_annotation_text)
        result['changed'] = True
    if new_restart_text is not None:
        atomic_write_text(restart_path, new_restart_text)
        result['changed'] = True
    if not plan:
        return result

    # 3. Write every document that changed to a staging folder, then publish.
    generated = now.strftime('%Y-%m-%d %H:%M') + ' (%s)' % tz_caption(tzname, now)
    jobs = []
    for doc_type, files in plan:
        model = models[doc_type.model]
        doc = Document(doc_type.name, t(doc_type.title_key(ctx)), [
            (t('hospital'), ctx['hospital']), (t('period'), label),
            (t('project_lead'), ctx['project_lead']), (t('generated_at'), generated)],
            doc_type.sections(model, ctx), language, signed=doc_type.signed,
            landscape=doc_type.landscape, first_sheet=t(doc_type.first_sheet))
        size = sum(len(s.rows) for s in doc.sections if hasattr(s, 'rows'))
        for fmt, name in files.items():
            jobs.append((COST[fmt] * size + COST_BASE[fmt], fmt, doc, name))
        current['%s.%s' % (doc_type.name, language)]['generated_at'] = generated
    staging = staging_dir(out_dir)
    waiter = None
    try:
        mine, theirs = _share(jobs)
        if theirs and (os.cpu_count() or 1) > 1 and hasattr(os, 'fork'):
            # The big writers share nothing: half of them in a forked child.
            waiter = run_forked(_run_jobs, (theirs, ctx, staging, template_dir),
                                ', '.join(sorted(set('the %s %s' % (j[2].name, j[1]) for j in theirs))))
        else:
            mine = mine + theirs
        _run_jobs(mine, ctx, staging, template_dir)
        if waiter is not None:
            wait, waiter = waiter, None
            wait()
        names = dict(('%s.%s' % (job[2].name, job[1]), job[3]) for job in jobs)
        published = publish(staging, names, out_dir)
        result['paths'].update(published)
        kept = dict((k, v) for k, v in manifest.items() if k not in current)
        kept.update(current)
        atomic_write_text(manifest_path, json.dumps({'version': REPORT_VERSION, 'documents': kept},
                                                    ensure_ascii=False, indent=1, sort_keys=True))
    finally:
        if waiter is not None:  # an error above: do not leave the child behind
            try:
                waiter()
            except ReportError:
                pass
        shutil.rmtree(staging, ignore_errors=True)
    result['changed'] = True
    return result


def _share(jobs):
    """Two lists of jobs of about equal cost (largest first)."""
    mine, theirs, cost = [], [], [0.0, 0.0]
    for job in sorted(jobs, key=lambda j: -j[0]):
        side = 0 if cost[0] <= cost[1] else 1
        (mine if side == 0 else theirs).append(job)
        cost[side] += job[0]
    return mine, theirs


def _run_jobs(jobs, ctx, staging, template_dir):
    for job in jobs:
        fmt, doc, name = job[1:]
        try:
            WRITERS[fmt](fmt, doc, ctx, os.path.join(staging, name), template_dir)
        except ReportError:
            raise
        except Exception as exc:
            raise ReportError('writing the %s %s failed: %s: %s'
                              % (doc.name, fmt, type(exc).__name__, exc)) from exc


def run_forked(func, args, what):
    """Run func(*args) in a forked child; return a function that waits for it
    and raises ReportError with the child's error if it failed."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            func(*args)
        except BaseException as exc:  # report everything to the parent
            text = str(exc) if isinstance(exc, ReportError) else '%s: %s' % (type(exc).__name__, exc)
            os.write(write_fd, text.encode('utf-8')[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)

    def wait():
        with os.fdopen(read_fd, 'rb') as handle:
            error = handle.read().decode('utf-8', 'replace')
        status = os.waitpid(pid, 0)[1]
        if status != 0:
            raise ReportError(error or 'writing %s failed: exit status %d' % (what, status))
    return wait
