# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inspection documents from the record store (contract clause R1, R13, R14).

Controller-side only (used by the ``dialysis_report`` action plugin):

* ``collect`` reads the records of a period into a model: one row per host x
  item x inspection, anomalies aggregated per host and item, per-host trends,
  and the hosts of the inventory that were never inspected or unreachable;
* ``Annotations`` keeps the engineers' feedback and resolution per anomaly in
  ``annotations/<period>.yml``: new anomalies are appended, nothing an
  engineer wrote is ever rewritten, and a malformed file is rejected with its
  file, line and key before any document is touched;
* ``write_xlsx``, ``render_html``, ``write_pdf`` and ``trend_svg`` produce the
  documents; ``publish`` moves them into place only once all were written.
"""

from __future__ import absolute_import, division, print_function

import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator, format_number
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore, parse_time

__metaclass__ = type

REPORT_VERSION = 1
SEVERITY_ORDER = {'ok': 0, 'warning': 1, 'critical': 2, 'error': 3}
SYSTEMS = ('hemodialysis', 'ckd', 'pd', 'shared')
ANNOTATION_FIELDS = ('host', 'item', 'system', 'severity', 'first_seen', 'description',
                     'feedback', 'resolution', 'resolved_at', 'engineer')
HUMAN_FIELDS = ('feedback', 'resolution', 'resolved_at', 'engineer')


class ReportError(Exception):
    """Bad input to the report: the message names the file, line and key."""


# -- period -------------------------------------------------------------------
def period_bounds(period, month=None, quarter=None, tzname='Asia/Shanghai', today=None):
    """(label, start, end) of a month ``YYYY-MM`` or a quarter ``YYYY-Qn``,
    in the hospital's time zone, as aware datetimes."""
    tz = get_timezone(tzname)
    today = today or datetime.datetime.now(tz).date()
    if period == 'month':
        if not month:
            month = '%04d-%02d' % (today.year, today.month)
        found = re.match(r'^(\d{4})-(\d{2})$', str(month))
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise ReportError('report_month: expected a month as YYYY-MM (e.g. 2026-11), got %r'
                              % (month,))
        year, first = int(found.group(1)), int(found.group(2))
        months, label = 1, '%04d-%02d' % (year, first)
    elif period == 'quarter':
        if not quarter:
            quarter = '%04d-Q%d' % (today.year, (today.month - 1) // 3 + 1)
        found = re.match(r'^(\d{4})-Q([1-4])$', str(quarter))
        if not found:
            raise ReportError('report_quarter: expected a quarter as YYYY-Qn (e.g. 2026-Q4), got %r'
                              % (quarter,))
        year, first = int(found.group(1)), (int(found.group(2)) - 1) * 3 + 1
        months, label = 3, '%04d-Q%s' % (year, found.group(2))
    else:
        raise ReportError('report_period: expected month or quarter, got %r' % (period,))
    start = datetime.datetime(year, first, 1, tzinfo=tz)
    end_month = first + months
    end = datetime.datetime(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1, tzinfo=tz)
    return label, start, end


def get_timezone(name):
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(name)
    except Exception:
        raise ReportError('report_timezone: expected an IANA time zone such as Asia/Shanghai, '
                          'got %r' % (name,)) from None


# -- model --------------------------------------------------------------------
def _severity(status):
    return status if status in ('warning', 'critical', 'error') else 'ok'


def _worse(a, b):
    return a if SEVERITY_ORDER.get(a, 0) >= SEVERITY_ORDER.get(b, 0) else b


def anomaly_id(label, host, item):
    return '%s:%s:%s' % (label, host, item)


def _fs_max(metrics):
    values = [f.get('percent') for f in metrics.get('filesystems') or [] if f.get('percent') is not None]
    return max(values) if values else None


def collect(records_dir, label, start, end, expected_hosts, t, tz):
    """The report model of one period (see module docstring)."""
    store = RecordStore(records_dir)
    rows, anomalies, hosts = [], {}, {}
    for name, system in expected_hosts.items():
        hosts[name] = {'system': system, 'inspections': 0, 'last': None, 'last_status': None,
                       'trend': [], 'expected': True}
    for record in store.records(start, end, kind='inspection'):
        ctx = record['context']
        host = ctx.get('host')
        when = parse_time(ctx.get('ended') or ctx.get('started')).astimezone(tz)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        entry = hosts.setdefault(host, {'system': system, 'inspections': 0, 'last': None,
                                        'last_status': None, 'trend': [], 'expected': False})
        if entry['system'] == 'shared' and system != 'shared':
            entry['system'] = system
        unreachable = ctx.get('status') == 'unreachable'
        entry['inspections'] += 1
        if entry['last'] is None or when >= entry['last']:
            entry['last'] = when
            entry['last_status'] = 'unreachable' if unreachable else record.get('status', 'ok')
        metrics = record.get('metrics') or {}
        if metrics:
            entry['trend'].append((when, _fs_max(metrics), (metrics.get('memory') or {}).get('percent'),
                                   (metrics.get('cpu') or {}).get('cpu_percent')))
        time_text = when.strftime('%Y-%m-%d %H:%M')
        for item in record.get('items') or []:
            status = _severity(item.get('status'))
            row = {'time': time_text, 'when': when, 'system': entry['system'], 'host': host,
                   'item': item.get('item', ''), 'value': item.get('value'), 'unit': item.get('unit'),
                   'threshold': item.get('threshold'), 'status': status,
                   'engineer': ctx.get('operator') or '', 'anomaly_id': None, 'description': ''}
            if status != 'ok':
                aid = anomaly_id(label, host, row['item'])
                row['anomaly_id'] = aid
                found = anomalies.get(aid)
                description = row['description'] = t.describe(item)
                if found is None:
                    anomalies[aid] = {'id': aid, 'host': host, 'system': entry['system'],
                                      'item': row['item'], 'severity': status,
                                      'first_seen': time_text, 'last_seen': time_text,
                                      'occurrences': 1, 'description': description}
                else:
                    found['occurrences'] += 1
                    found['severity'] = _worse(found['severity'], status)
                    found['last_seen'] = max(found['last_seen'], time_text)
                    found['first_seen'] = min(found['first_seen'], time_text)
                    if status == found['severity']:
                        found['description'] = description
            rows.append(row)
    missing = []
    for name, entry in sorted(hosts.items()):
        entry['trend'].sort(key=lambda point: point[0])
        if entry['inspections'] == 0:
            aid = anomaly_id(label, name, 'inspection:missing')
            anomalies[aid] = {'id': aid, 'host': name, 'system': entry['system'],
                              'item': 'inspection:missing', 'severity': 'critical',
                              'first_seen': '', 'last_seen': '', 'occurrences': 1,
                              'description': t('desc_inspection:missing')}
            missing.append({'host': name, 'system': entry['system'], 'reason': t('never_inspected')})
        elif entry['last_status'] == 'unreachable':
            missing.append({'host': name, 'system': entry['system'],
                            'reason': '%s (%s)' % (t('last_unreachable'),
                                                   entry['last'].strftime('%Y-%m-%d %H:%M'))})
    rows.sort(key=lambda r: (r['when'], r['host']))
    return {'rows': rows, 'anomalies': anomalies, 'hosts': hosts, 'missing': missing,
            'bad_lines': list(store.stats.get('bad_lines', []))}


# -- annotations ----------------------------------------------------------------
ANNOTATION_HEADER = {
    'zh': ('巡检异常反馈与处理记录（{label}）。\n'
           '每个异常一条，按异常编号区分。请工程师填写：\n'
           '  feedback:   异常反馈（告知谁、何时），如 "2026-11-26 10:30 电话告知信息科张工"\n'
           '  resolution: 处理结果，如 "清理过期备份 12 GB，使用率降至 61%"；填写后该异常记为已解决\n'
           '  resolved_at: 解决时间（可选），engineer: 处理人（可选）\n'
           '重新生成报告只会追加新的异常，不会改动已填写的内容。'),
    'en': ('Feedback on and resolution of the inspection anomalies ({label}).\n'
           'One entry per anomaly, keyed by its id. Engineers fill in:\n'
           '  feedback:   who was told, and when, e.g. "2026-11-26 10:30 phoned Zhang, IT dept"\n'
           '  resolution: what was done, e.g. "removed 12 GB of expired dumps, now 61 %";\n'
           '              an anomaly with a resolution counts as resolved\n'
           '  resolved_at: when (optional), engineer: who (optional)\n'
           'Generating the report again only appends new anomalies; nothing written here is changed.'),
}


def _yaml():
    from ruamel.yaml import YAML
    yaml = YAML()  # round-trip: keeps comments, order and the engineers' formatting
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


class Annotations(object):
    """The engineers' file for one period."""

    def __init__(self, path):
        self.path = path
        self.raw = None
        self.entries = {}

    def load(self):
        """Read and validate; ReportError names file, line and key."""
        if not os.path.exists(self.path):
            return self
        yaml = _yaml()
        try:
            with open(self.path, encoding='utf-8') as handle:
                self.raw = handle.read()
            doc = yaml.load(self.raw)
        except Exception as exc:  # ruamel raises several types; all carry a mark
            mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
            where = '%s:%d' % (self.path, mark.line + 1) if mark is not None else self.path
            problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
            raise ReportError('%s: not valid YAML (%s); fix the file or restore it from the '
                              'last report run' % (where, problem)) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ReportError('%s:1: expected a mapping with the key anomalies' % self.path)
        unknown = [k for k in doc if k != 'anomalies']
        if unknown:
            raise ReportError('%s:%d: unknown key %r; the file holds only "anomalies"'
                              % (self.path, _line(doc, unknown[0]), unknown[0]))
        anomalies = doc.get('anomalies')
        if anomalies is None:
            anomalies = {}
        if not isinstance(anomalies, dict):
            raise ReportError('%s:%d: anomalies: expected a mapping of anomaly id to '
                              '{feedback, resolution, ...}' % (self.path, _line(doc, 'anomalies')))
        for aid, entry in anomalies.items():
            where = '%s:%d' % (self.path, _line(anomalies, aid))
            if not isinstance(entry, dict):
                raise ReportError('%s: anomalies[%r]: expected a mapping with feedback and '
                                  'resolution, got %r' % (where, aid, entry))
            for key, value in entry.items():
                kwhere = '%s:%d' % (self.path, _line(entry, key))
                if key not in ANNOTATION_FIELDS:
                    raise ReportError('%s: anomalies[%r].%s: unknown key; expected one of %s'
                                      % (kwhere, aid, key, ', '.join(ANNOTATION_FIELDS)))
                if value is not None and not isinstance(value, (str, int, float, datetime.date)):
                    raise ReportError('%s: anomalies[%r].%s: expected text, got %s'
                                      % (kwhere, aid, key, type(value).__name__))
            self.entries[str(aid)] = dict((k, '' if v is None else str(v)) for k, v in entry.items())
        return self

    def new_entries(self, anomalies):
        return [a for aid, a in sorted(anomalies.items()) if aid not in self.entries]

    def render_with(self, anomalies, label, language):
        """The file's text with one entry appended per new anomaly (None when
        there is nothing new). The existing text is kept byte for byte: new
        entries are appended below it, never re-serialised with it."""
        new = self.new_entries(anomalies)
        if not new:
            return None
        import io

        from ruamel.yaml.comments import CommentedMap
        block = CommentedMap()
        for anomaly in new:
            entry = CommentedMap()
            for key in ('host', 'item', 'system', 'severity', 'first_seen', 'description'):
                entry[key] = anomaly[key]
            entry['feedback'] = ''
            entry['resolution'] = ''
            block[anomaly['id']] = entry
        doc = CommentedMap()
        doc['anomalies'] = block
        out = io.StringIO()
        _yaml().dump(doc, out)
        dumped = out.getvalue()
        if self.entries and self.raw is not None:
            # Block mapping with entries: append ours (without the key line).
            text = self.raw if self.raw.endswith('\n') else self.raw + '\n'
            text += dumped.split('\n', 1)[1]
            try:
                check = _yaml().load(text)
            except Exception:  # appending to a flow-style mapping breaks the syntax
                check = None
            if check is not None and len(check['anomalies']) == len(self.entries) + len(new):
                return text
            # A flow-style mapping cannot be extended by appending lines: rewrite
            # it whole, keeping comments and quotes.
            full = _yaml()
            full.preserve_quotes = True
            doc = full.load(self.raw)
            for key, value in block.items():
                doc['anomalies'][key] = value
            out = io.StringIO()
            full.dump(doc, out)
            return out.getvalue()
        header = ''.join('# %s\n' % line if line else '#\n'
                         for line in ANNOTATION_HEADER[language].format(label=label).splitlines())
        return header + dumped


def _line(mapping, key):
    try:
        return mapping.lc.key(key)[0] + 1
    except Exception:
        return 1


def merge_annotations(anomalies, entries):
    """Copy feedback/resolution into the anomalies; resolved when a resolution exists."""
    for aid, anomaly in anomalies.items():
        note = entries.get(aid, {})
        for key in HUMAN_FIELDS:
            anomaly[key] = note.get(key, '')
        anomaly['resolved'] = bool(anomaly['resolution'].strip())


# -- documents ------------------------------------------------------------------
SHEET_COLUMNS = ('col_time', 'col_system', 'col_host', 'col_item', 'col_value', 'col_threshold',
                 'col_result', 'col_anomaly', 'col_feedback', 'col_resolution', 'col_engineer',
                 'col_lead', 'col_status', 'col_anomaly_id')
SHEET_WIDTHS = (17, 16, 14, 26, 12, 14, 8, 44, 30, 30, 12, 14, 8, 40)


def sheet_rows(model, t, lead):
    """The sheet's cells, one list per row, in the column order above."""
    anomalies = model['anomalies']
    for row in model['rows']:
        anomaly = anomalies.get(row['anomaly_id']) if row['anomaly_id'] else None
        threshold = row['threshold'] or {}
        if threshold:
            threshold_text = '%s/%s' % (format_number(threshold.get('warning')),
                                        format_number(threshold.get('critical')))
        else:
            threshold_text = ''
        value = row['value']
        if isinstance(value, float):
            value = round(value, 1)
        if isinstance(value, (list, dict)):
            value = json.dumps(value, ensure_ascii=False)
        unit = t.unit(row['unit'])
        value_text = value if (unit == '' or value is None) else '%s %s' % (format_number(value), unit)
        yield [row['time'], t.system(row['system']), row['host'], t.item_label(row['item']),
               value_text if value_text is not None else '', threshold_text, t.result(row['status']),
               row['description'], anomaly['feedback'] if anomaly else '',
               anomaly['resolution'] if anomaly else '', row['engineer'], lead,
               (t('status_resolved') if anomaly['resolved'] else t('status_open')) if anomaly else '',
               row['anomaly_id'] or '']


def summary_by_system(model, systems_order=SYSTEMS):
    """Per system: hosts expected/inspected, inspections, items, anomalies by severity."""
    out = []
    for system in systems_order:
        hosts = dict((h, e) for h, e in model['hosts'].items() if e['system'] == system)
        if not hosts:
            continue
        anomalies = [a for a in model['anomalies'].values() if a['system'] == system]
        out.append({
            'system': system,
            'hosts_expected': sum(1 for e in hosts.values() if e['expected']) or len(hosts),
            'hosts_inspected': sum(1 for e in hosts.values() if e['inspections']),
            'inspections': sum(e['inspections'] for e in hosts.values()),
            'items': sum(1 for r in model['rows'] if r['system'] == system),
            'warning': sum(1 for a in anomalies if a['severity'] == 'warning'),
            'critical': sum(1 for a in anomalies if a['severity'] == 'critical'),
            'error': sum(1 for a in anomalies if a['severity'] == 'error'),
            'open': sum(1 for a in anomalies if not a['resolved']),
            'resolved': sum(1 for a in anomalies if a['resolved']),
            'anomalies': sorted(anomalies, key=lambda a: (-SEVERITY_ORDER[a['severity']], a['host'],
                                                          a['item'])),
            'hosts': sorted(hosts),
        })
    return out


def write_xlsx(model, t, lead, meta, path):
    """XLSX with a summary sheet and one sheet per system: frozen header,
    filters, column widths. Write-only mode keeps a quarter of 50 hosts fast."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    fill = PatternFill('solid', fgColor='DDEBF7')
    result_fill = {t.result('warning'): PatternFill('solid', fgColor='FFF2CC'),
                   t.result('critical'): PatternFill('solid', fgColor='F8CBAD')}

    def header_cells(ws, labels):
        cells = []
        for label in labels:
            cell = WriteOnlyCell(ws, value=label)
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(vertical='center', wrap_text=True)
            cells.append(cell)
        return cells

    summary = wb.create_sheet(t('summary_sheet'))
    for col, width in enumerate((22, 14, 14, 12, 12, 10, 10, 10, 10, 10), 1):
        summary.column_dimensions[get_column_letter(col)].width = width
    summary.append([meta['title']])
    summary.append([t('hospital'), meta['hospital']])
    summary.append([t('period'), meta['label']])
    summary.append([t('project_lead'), lead])
    summary.append([t('generated_at'), meta['generated_at']])
    summary.append([])
    summary.append(header_cells(summary, [
        t('col_system'), t('hosts_in_inventory'), t('hosts_inspected'), t('inspections'),
        t('items_checked'), t('severity_warning'), t('severity_critical'), t('severity_error'),
        t('anomalies_open'), t('anomalies_resolved')]))
    for entry in meta['summary']:
        summary.append([t.system(entry['system']), entry['hosts_expected'], entry['hosts_inspected'],
                        entry['inspections'], entry['items'], entry['warning'], entry['critical'],
                        entry['error'], entry['open'], entry['resolved']])

    rows = list(sheet_rows(model, t, lead))
    labels = [t(c) for c in SHEET_COLUMNS]
    status_col = SHEET_COLUMNS.index('col_result')
    for entry in meta['summary']:
        ws = wb.create_sheet(t.system(entry['system'])[:31])
        ws.freeze_panes = 'A2'
        for col, width in enumerate(SHEET_WIDTHS, 1):
            ws.column_dimensions[get_column_letter(col)].width = width
        system_label = t.system(entry['system'])
        selected = [r for r in rows if r[1] == system_label]
        ws.auto_filter.ref = 'A1:%s%d' % (get_column_letter(len(labels)), max(len(selected) + 1, 1))
        ws.append(header_cells(ws, labels))
        for values in selected:
            fill_for = result_fill.get(values[status_col])
            if fill_for is None:
                ws.append(values)
                continue
            cells = [WriteOnlyCell(ws, value=v) for v in values]
            cells[status_col].fill = fill_for
            ws.append(cells)
    wb.save(path)
    return len(rows)


def trend_svg(points, t, width=640, height=170):
    """A small line chart (disk, memory, CPU %) as inline SVG text. No fonts
    are fetched: labels use the document's font family."""
    series = [('chart_disk', 1, '#c0392b'), ('chart_memory', 2, '#2471a3'), ('chart_cpu', 3, '#229954')]
    left, right, top, bottom = 34, 10, 10, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    usable = [p for p in points if any(p[i] is not None for _, i, _ in series)]
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'class="trend">' % (width, height, width, height)]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100.0)
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>'
                     % (left, y, width - right, y))
        parts.append('<text x="%d" y="%.1f" font-size="9" text-anchor="end">%d</text>'
                     % (left - 4, y + 3, pct))
    if not usable:
        parts.append('<text x="%d" y="%d" font-size="11">%s</text>'
                     % (left + 10, top + plot_h // 2, _esc(t('no_trend_data'))))
    else:
        t0, t1 = usable[0][0], usable[-1][0]
        span = max((t1 - t0).total_seconds(), 1.0)
        for _key, index, colour in series:
            coords = []
            for point in usable:
                if point[index] is None:
                    continue
                x = left + plot_w * ((point[0] - t0).total_seconds() / span if len(usable) > 1 else 0.5)
                y = top + plot_h * (1 - min(max(float(point[index]), 0.0), 100.0) / 100.0)
                coords.append('%.1f,%.1f' % (x, y))
            if len(coords) == 1:
                x, y = coords[0].split(',')
                parts.append('<circle cx="%s" cy="%s" r="2.5" fill="%s"/>' % (x, y, colour))
            elif coords:
                parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                             % (colour, ' '.join(coords)))
        parts.append('<text x="%d" y="%d" font-size="9">%s</text>'
                     % (left, height - 20, t0.strftime('%m-%d %H:%M')))
        parts.append('<text x="%d" y="%d" font-size="9" text-anchor="end">%s</text>'
                     % (width - right, height - 20, t1.strftime('%m-%d %H:%M')))
    x = left
    for key, _, colour in series:
        parts.append('<rect x="%d" y="%d" width="10" height="3" fill="%s"/>' % (x, height - 9, colour))
        parts.append('<text x="%d" y="%d" font-size="9">%s</text>' % (x + 14, height - 5, _esc(t(key))))
        x += 150
    parts.append('</svg>')
    return ''.join(parts)


def _esc(text):
    return (str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace('"', '&quot;'))


def sheet_body_html(model, t, lead):
    """The sheet's table rows as HTML. Built here rather than in the template:
    a quarter of 50 hosts is ~80,000 rows, and a Jinja loop over every cell
    costs seconds where joining escaped strings costs a fraction of one."""
    from markupsafe import Markup, escape
    resolved = t('status_resolved')
    status_col = SHEET_COLUMNS.index('col_status')
    out = []
    for values in sheet_rows(model, t, lead):
        status = values[status_col]
        css = '' if not status else (' class="resolved"' if status == resolved else ' class="r-warning"')
        out.append('<tr%s><td>%s</td></tr>' % (css, '</td><td>'.join(
            str(escape('' if v is None else v)) for v in values)))
    return Markup('\n'.join(out))


def render_html(template_dir, name, context):
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir),
                             autoescape=jinja2.select_autoescape(['html', 'j2']),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template(name).render(**context)


def write_pdf(html_text, path, base_url):
    import logging
    logging.getLogger('weasyprint').setLevel(logging.ERROR)
    logging.getLogger('fontTools').setLevel(logging.ERROR)
    import weasyprint
    weasyprint.HTML(string=html_text, base_url=base_url).write_pdf(path)


def digest(*parts):
    sha = hashlib.sha256()
    for part in parts:
        sha.update(json.dumps(part, sort_keys=True, default=str, ensure_ascii=False).encode('utf-8'))
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


def atomic_write_text(path, text):
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o750)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
        os.replace(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def staging_dir(out_dir):
    parent = os.path.dirname(out_dir.rstrip('/')) or '.'
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o750)
    return tempfile.mkdtemp(prefix='.staging-', dir=parent)


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def build_report(params, template_dir, now=None):
    """Everything one report run does; returns a result dict for the action.

    params: records_dir, output_dir, annotations_dir, period, month, quarter,
    language, timezone, expected_hosts {host: system}, project_lead, hospital,
    formats (subset of xlsx, html, pdf), check_mode.
    """
    t = Translator(params['language'])
    tz = get_timezone(params['timezone'])
    label, start, end = period_bounds(params['period'], params.get('month'), params.get('quarter'),
                                      params['timezone'])
    formats = list(params['formats'])
    unknown = sorted(set(formats) - set(['xlsx', 'html', 'pdf']))
    if unknown:
        raise ReportError('report_formats: unknown format(s) %s; expected xlsx, html and/or pdf'
                          % ', '.join(unknown))
    # 1. Engineers' annotations first: a malformed file stops everything here.
    ann_path = os.path.join(params['annotations_dir'], '%s.yml' % label)
    annotations = Annotations(ann_path).load()

    model = collect(params['records_dir'], label, start, end, params['expected_hosts'], t, tz)
    merge_annotations(model['anomalies'], annotations.entries)
    new_annotation_text = annotations.render_with(model['anomalies'], label, params['language'])

    out_dir = os.path.join(params['output_dir'], label)
    kind = 'monthly' if params['period'] == 'month' else 'quarterly'
    names = {'xlsx': 'inspection-sheet-%s.xlsx' % label,
             'sheet_html': 'inspection-sheet-%s.html' % label,
             'html': '%s-inspection-report-%s.html' % (kind, label),
             'pdf': '%s-inspection-report-%s.pdf' % (kind, label)}
    wanted = {}
    if 'xlsx' in formats:
        wanted['xlsx'] = names['xlsx']
    if 'html' in formats:
        wanted['sheet_html'] = names['sheet_html']
        wanted['html'] = names['html']
    if 'pdf' in formats:
        wanted['pdf'] = names['pdf']

    fingerprint = digest(REPORT_VERSION, params['language'], params['project_lead'],
                         params['hospital'], sorted(wanted.items()),
                         [[r[k] for k in ('time', 'host', 'item', 'value', 'status', 'engineer')]
                          for r in model['rows']],
                         sorted(model['anomalies'].items()), model['missing'])
    manifest_path = os.path.join(out_dir, '.manifest.json')
    previous = None
    if os.path.exists(manifest_path):
        try:
            with open(manifest_path) as handle:
                previous = json.load(handle)
        except (IOError, ValueError):
            previous = None
    paths = dict((k, os.path.join(out_dir, v)) for k, v in wanted.items())
    up_to_date = (previous is not None and previous.get('digest') == fingerprint
                  and all(os.path.exists(p) for p in paths.values()))
    result = {'label': label, 'paths': paths, 'annotations': ann_path,
              'rows': len(model['rows']), 'anomalies': len(model['anomalies']),
              'open': sum(1 for a in model['anomalies'].values() if not a['resolved']),
              'missing_hosts': [m['host'] for m in model['missing']],
              'new_anomalies': [a['id'] for a in annotations.new_entries(model['anomalies'])],
              'bad_lines': model['bad_lines'], 'changed': False}
    if params.get('check_mode'):
        result['changed'] = (not up_to_date) or new_annotation_text is not None
        return result
    if new_annotation_text is not None:
        atomic_write_text(ann_path, new_annotation_text)
        result['changed'] = True
    if up_to_date:
        return result

    now = now or datetime.datetime.now(tz)
    title = t('%s_title' % kind)
    meta = {'title': title, 'label': label, 'hospital': params['hospital'],
            'generated_at': now.strftime('%Y-%m-%d %H:%M'), 'summary': summary_by_system(model)}
    context = {'t': t, 'meta': meta, 'lead': params['project_lead'], 'model': model,
               'language': params['language'], 'columns': [t(c) for c in SHEET_COLUMNS]}
    staging = staging_dir(out_dir)
    try:
        wait_xlsx = None
        if 'xlsx' in wanted:
            xlsx_args = (model, t, params['project_lead'], meta, os.path.join(staging, names['xlsx']))
            if len(wanted) > 1 and (os.cpu_count() or 1) > 1 and hasattr(os, 'fork'):
                # The sheet and the PDF are the two big costs and share nothing:
                # write the sheet in a forked child while this process prints the PDF.
                wait_xlsx = run_forked(write_xlsx, xlsx_args, 'the XLSX sheet')
            else:
                write_xlsx(*xlsx_args)
        if 'sheet_html' in wanted or 'html' in wanted or 'pdf' in wanted:
            charts = dict((h, trend_svg(e['trend'], t)) for h, e in model['hosts'].items())
            context['charts'] = charts
            report_html = render_html(template_dir, 'inspection_report.html.j2',
                                      dict(context, for_pdf=False))
            if 'html' in wanted:
                with open(os.path.join(staging, names['html']), 'w', encoding='utf-8') as handle:
                    handle.write(report_html)
                sheet_html = render_html(template_dir, 'inspection_sheet.html.j2',
                                         dict(context, body=sheet_body_html(model, t,
                                                                            params['project_lead'])))
                with open(os.path.join(staging, names['sheet_html']), 'w', encoding='utf-8') as handle:
                    handle.write(sheet_html)
            if 'pdf' in wanted:
                pdf_html = render_html(template_dir, 'inspection_report.html.j2',
                                       dict(context, for_pdf=True))
                write_pdf(pdf_html, os.path.join(staging, names['pdf']), template_dir)
        if wait_xlsx is not None:
            waiter, wait_xlsx = wait_xlsx, None
            waiter()
        result['paths'] = publish(staging, wanted, out_dir)
        atomic_write_text(manifest_path, json.dumps({'digest': fingerprint, 'files': wanted,
                                                     'generated_at': meta['generated_at']}))
    finally:
        if wait_xlsx is not None:  # an error above: do not leave the child behind
            try:
                wait_xlsx()
            except ReportError:
                pass
        remove_tree(staging)
    result['changed'] = True
    return result


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
            os.write(write_fd, ('%s: %s' % (type(exc).__name__, exc)).encode('utf-8')[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)

    def wait():
        with os.fdopen(read_fd, 'rb') as handle:
            error = handle.read().decode('utf-8', 'replace')
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise ReportError('writing %s failed: %s' % (what, error or 'exit status %d' % status))
    return wait
