# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared writers: any declared document (``dialysis_doc_spec.Document``)
to XLSX (XlsxWriter, constant memory), HTML (one generic Jinja template), PDF
(the HTML printed by WeasyPrint, CJK font embedded) and DOCX (python-docx).

Nothing here knows a document type. Table bodies are joined as strings in
Python rather than looped over in Jinja or built cell by cell through an
object model: a quarter of 50 hosts is ~84,000 rows.
"""

from __future__ import absolute_import, division, print_function

import datetime
import io
import re
import unicodedata
import zipfile

__metaclass__ = type

# Row classes (``_class``) and how each format shows them.
FILLS = {'r-warning': 'FFF2CC', 'r-critical': 'F8CBAD', 'r-error': 'F8CBAD',
         'r-missing': 'E7E6E6', 'r-skipped': 'EDEDED', 'resolved': 'E2EFDA'}
HEADER_FILL = 'DDEBF7'


# -- shared helpers -------------------------------------------------------------
def display(value):
    """A cell as text: floats to two decimals at most, None blank."""
    if value is None:
        return ''
    if isinstance(value, float):
        return ('%.2f' % value).rstrip('0').rstrip('.')
    return str(value)


def _units(char):
    return 2.0 if unicodedata.east_asian_width(char) in ('W', 'F') else 1.05


def header_min_width(text, language):
    """Width (in characters) a column needs for its header: English headers
    wrap only between words, so the longest word must fit; CJK breaks anywhere,
    but no more than three lines (a column four characters wide for 严重程度
    would stack it one character per line)."""
    words = re.split(r'[\s/]+', text)
    longest = 0.0
    for word in words:
        if any(_units(c) == 2.0 for c in word):
            longest = max(longest, max(_units(c) for c in word))
            ascii_run = re.findall(r'[\x21-\x7e]+', word)
            for run in ascii_run:
                longest = max(longest, len(run) * 1.05)
        else:
            longest = max(longest, len(word) * 1.05)
    total = sum(_units(c) for c in text)
    lines = 3 if language == 'zh' else 4
    return max(longest, total / lines) + 1.0


_ASCII_RUN = re.compile(r'[\x21-\x7e]+')


def data_min_width(column, rows, sample=2000, cap=14.0):
    """Width the longest unbreakable word of a column's cells needs (ASCII
    runs; CJK breaks anywhere), up to ``cap``: beyond it ids and paths wrap
    anywhere rather than widen the column."""
    longest = 0
    key = column.key
    for number, row in enumerate(rows):
        if number >= sample:
            break
        value = row.get(key)
        if value is None or value == '':
            continue
        text = display(value) if column.number_format or isinstance(value, float) else str(value)
        for run in _ASCII_RUN.findall(text):
            if len(run) > longest:
                longest = len(run)
    return min(longest * 1.05 + 1.0, cap) if longest else 0.0


def column_widths(columns, labels, language, rows=()):
    """Effective widths (characters) of the columns: the declared width, widened
    to fit the header words and the longest short word of the cells."""
    return [max(float(c.width), header_min_width(label, language), data_min_width(c, rows))
            for c, label in zip(columns, labels, strict=True)]


def labels_of(columns, t, tzcap):
    return [t(c.label, tz=tzcap) for c in columns]


def _esc(text):
    return (text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
            .replace('"', '&quot;'))


def _sheet_name(name, used):
    name = re.sub(r'[\[\]:*?/\\]', ' ', name)[:31] or 'Sheet'
    base, number = name, 2
    while name.lower() in used:
        suffix = ' (%d)' % number
        name = base[:31 - len(suffix)] + suffix
        number += 1
    used.add(name.lower())
    return name


def sheets_of(doc):
    """The sections grouped by XLSX sheet, in order; the first sheet holds the
    title and the meta."""
    order, groups = [], {}
    for section in doc.sections:
        if section.kind == 'signatures':
            continue
        name = section.sheet or doc.first_sheet
        if name not in groups:
            order.append(name)
            groups[name] = []
        groups[name].append(section)
    if doc.first_sheet not in groups:
        order.insert(0, doc.first_sheet)
        groups[doc.first_sheet] = []
    elif order[0] != doc.first_sheet:
        order.remove(doc.first_sheet)
        order.insert(0, doc.first_sheet)
    return [(name, groups[name]) for name in order]


# -- XLSX -------------------------------------------------------------------------
def write_xlsx(doc, ctx, path):
    """Every sheet with its print setup (A4 landscape, fit to width, header rows
    repeated, margins), figures as numbers with a number format, a frozen and
    filtered header on main tables, and the signature block at the end of every
    sheet of a signed document."""
    import xlsxwriter
    t, tzcap = ctx['t'], ctx['tzcap']
    wb = xlsxwriter.Workbook(path, {'constant_memory': True, 'strings_to_numbers': False,
                                    'strings_to_formulas': False, 'strings_to_urls': False})
    formats = {}

    def fmt(**props):
        key = tuple(sorted(props.items()))
        if key not in formats:
            formats[key] = wb.add_format(dict(props, font_name='Microsoft YaHei', font_size=10,
                                              valign='top'))
        return formats[key]

    title_fmt = fmt(bold=True, font_size=14)
    bold = fmt(bold=True)
    header = fmt(bold=True, bg_color='#' + HEADER_FILL, text_wrap=True, border=1)
    line = fmt(bottom=1)
    plain = fmt()
    signature = [s for s in doc.sections if s.kind == 'signatures']
    used = set()
    for sheet_number, (name, sections) in enumerate(sheets_of(doc)):
        ws = wb.add_worksheet(_sheet_name(name, used))
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.set_footer('&C&P / &N')
        widths = {}
        row = 0
        repeat = None
        if sheet_number == 0:
            ws.write_string(row, 0, doc.title, title_fmt)
            row += 1
            for label, value in doc.meta:
                ws.write_string(row, 0, label, bold)
                ws.write_string(row, 1, display(value), plain)
                row += 1
            row += 1
            widths[0], widths[1] = 16, 30
        for section in sections:
            if section.kind == 'text':
                ws.write_string(row, 0, section.text, plain)
                row += 2
                continue
            columns = section.columns_for('xlsx')
            labels = labels_of(columns, t, tzcap)
            for index, width in enumerate(column_widths(columns, labels, doc.language)):
                widths[index] = max(widths.get(index, 0), min(width, 60))
            if section.title and not section.main:
                ws.write_string(row, 0, section.title, bold)
                row += 1
            if not section.rows and section.empty:
                ws.write_string(row, 0, section.empty, plain)
                row += 2
                continue
            first = row
            for index, label in enumerate(labels):
                ws.write_string(row, index, label, header)
            if repeat is None:
                repeat = row
            row += 1
            plan = []
            for index, column in enumerate(columns):
                wrap = column.number_format is None and column.width >= 18
                base = dict(text_wrap=True) if wrap else {}
                numeric = fmt(num_format=column.number_format, **base) if column.number_format else None
                integer = fmt(num_format=column.int_format, **base) if column.int_format else None
                by_class = {}
                if column.status:
                    for css, colour in FILLS.items():
                        by_class[css] = fmt(bg_color='#' + colour, **base)
                plan.append((index, column.key, fmt(**base), numeric, integer, by_class))
            write_number, write_string = ws.write_number, ws.write_string
            class_key = section.row_class
            for values in section.rows:
                css = values.get(class_key)
                for index, key, text_fmt, numeric, integer, by_class in plan:
                    value = values.get(key)
                    if value is None or value == '':
                        continue
                    kind = type(value)
                    if kind is float or kind is int:
                        write_number(row, index, value, (integer if kind is int else numeric) or text_fmt)
                    else:
                        write_string(row, index, str(value),
                                     by_class.get(css, text_fmt) if by_class else text_fmt)
                row += 1
            if section.main:
                ws.freeze_panes(first + 1, 0)
                ws.autofilter(first, 0, max(row - 1, first), len(columns) - 1)
            row += 1
        if doc.signed:
            for block in signature:
                row += 1
                ws.write_string(row, 0, block.title or '', bold)
                row += 1
                for role, person in block.signers:
                    ws.write_string(row, 0, role, bold)
                    ws.write_string(row, 1, person or '', line)
                    ws.write_string(row, 2, t('date'), bold)
                    ws.write_blank(row, 3, None, line)
                    row += 2
            widths[1] = max(widths.get(1, 0), 18)
            widths[3] = max(widths.get(3, 0), 14)
        for index, width in sorted(widths.items()):
            ws.set_column(index, index, width)
        if repeat is not None:
            ws.repeat_rows(repeat)
    wb.close()


# -- HTML and PDF -------------------------------------------------------------------
def table_html(section, fmt, t, tzcap, language):
    columns = section.columns_for(fmt)
    labels = labels_of(columns, t, tzcap)
    widths = column_widths(columns, labels, language, section.rows)
    total = sum(widths)
    parts = ['<table class="t"><colgroup>']
    parts.extend('<col style="width:%.2f%%">' % (100.0 * w / total) for w in widths)
    parts.append('</colgroup><thead><tr>')
    parts.extend('<th>%s</th>' % _esc(label) for label in labels)
    parts.append('</tr></thead><tbody>\n')
    plan = [(c.key, c.number_format is not None, c.tooltip, c.status) for c in columns]
    class_key = section.row_class
    out = []
    append = out.append
    for values in section.rows:
        cells = []
        for key, numeric, tooltip, _status in plan:
            value = values.get(key)
            text = '' if value is None else (display(value) if numeric or isinstance(value, float)
                                             else str(value))
            if '&' in text or '<' in text or '>' in text or '"' in text:
                text = _esc(text)
            if numeric:
                cells.append('<td class="num">%s</td>' % text)
            elif tooltip and values.get(tooltip):
                cells.append('<td title="%s">%s</td>' % (_esc(str(values[tooltip])), text))
            else:
                cells.append('<td>%s</td>' % text)
        css = values.get(class_key)
        append('<tr class="%s">%s</tr>' % (css, ''.join(cells)) if css
               else '<tr>%s</tr>' % ''.join(cells))
    parts.append('\n'.join(out))
    parts.append('\n</tbody></table>')
    return ''.join(parts)


def trend_svg(rows, section, t, width=640, height=150):
    """A small line chart of the series (percentages) of one group, as inline
    SVG text (two points or more; see Trends)."""
    left, right, top, bottom = 34, 10, 8, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    times = [datetime.datetime.strptime(r[section.time_key], '%Y-%m-%d %H:%M') for r in rows]
    t0, t1 = times[0], times[-1]
    span = max((t1 - t0).total_seconds(), 1.0)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
             'class="trend">' % (width, height, width, height)]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100.0)
        parts.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ccc" stroke-width="0.5"/>'
                     % (left, y, width - right, y))
        parts.append('<text x="%d" y="%.1f" font-size="8" text-anchor="end">%d</text>'
                     % (left - 4, y + 3, pct))
    for key, colour in section.series:
        coords = []
        for when, row in zip(times, rows, strict=True):
            if row.get(key) is None:
                continue
            x = left + plot_w * ((when - t0).total_seconds() / span)
            y = top + plot_h * (1 - min(max(float(row[key]), 0.0), 100.0) / 100.0)
            coords.append('%.1f,%.1f' % (x, y))
        if len(coords) == 1:
            x, y = coords[0].split(',')
            parts.append('<circle cx="%s" cy="%s" r="2.5" fill="%s"/>' % (x, y, colour))
        elif coords:
            parts.append('<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>'
                         % (colour, ' '.join(coords)))
    parts.append('<text x="%d" y="%d" font-size="8">%s</text>'
                 % (left, height - 17, t0.strftime('%m-%d %H:%M')))
    parts.append('<text x="%d" y="%d" font-size="8" text-anchor="end">%s</text>'
                 % (width - right, height - 17, t1.strftime('%m-%d %H:%M')))
    x = left
    labels = dict((c.key, c.label) for c in section.columns)
    for key, colour in section.series:
        parts.append('<rect x="%d" y="%d" width="10" height="3" fill="%s"/>' % (x, height - 8, colour))
        parts.append('<text x="%d" y="%d" font-size="8">%s</text>'
                     % (x + 14, height - 4, _esc(t(labels[key]))))
        x += 150
    parts.append('</svg>')
    return ''.join(parts)


def trends_html(section, t):
    groups, order = {}, []
    for row in section.rows:
        name = row[section.group]
        if name not in groups:
            order.append(name)
            groups[name] = []
        groups[name].append(row)
    if not order:
        return '<p>%s</p>' % _esc(section.empty or '')
    parts = []
    for name in order:
        rows = groups[name]
        if len(rows) == 1:
            parts.append('<p class="trend-one"><strong>%s</strong>：%s</p>'
                         % (_esc(name), _esc(section.single(rows[0]))) if t.language == 'zh' else
                         '<p class="trend-one"><strong>%s</strong>: %s</p>'
                         % (_esc(name), _esc(section.single(rows[0]))))
        else:
            parts.append('<div class="host-trend"><strong>%s</strong><br>%s</div>'
                         % (_esc(name), trend_svg(rows, section, t)))
    return ''.join(parts)


def signatures_html(section, t):
    rows = ''.join('<tr><th>%s</th><td>%s</td><th>%s</th><td></td></tr>'
                   % (_esc(role), _esc(person or ''), _esc(t('date')))
                   for role, person in section.signers)
    return ('<table class="sign"><colgroup><col style="width:20%"><col style="width:35%">'
            '<col style="width:10%"><col style="width:35%"></colgroup>' + rows + '</table>')


def render_html(doc, ctx, template_dir, fmt='html'):
    import jinja2
    from markupsafe import Markup
    t, tzcap = ctx['t'], ctx['tzcap']
    sections = []
    for section in doc.sections:
        if section.kind == 'table':
            body = (table_html(section, fmt, t, tzcap, doc.language) if section.rows or not section.empty
                    else '<p>%s</p>' % _esc(section.empty))
        elif section.kind == 'trends':
            body = trends_html(section, t)
        elif section.kind == 'signatures':
            if not doc.signed:
                continue
            body = signatures_html(section, t)
        else:
            body = '<p>%s</p>' % _esc(section.text)
        sections.append({'title': section.title, 'level': section.level, 'body': Markup(body)})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir),
                             autoescape=jinja2.select_autoescape(['html', 'j2']),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template('document.html.j2').render(
        doc=doc, sections=sections, for_pdf=(fmt == 'pdf'),
        lang='zh-CN' if doc.language == 'zh' else 'en')


def write_html(doc, ctx, path, template_dir):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(render_html(doc, ctx, template_dir, 'html'))


def write_pdf(doc, ctx, path, template_dir):
    import logging
    logging.getLogger('weasyprint').setLevel(logging.ERROR)
    logging.getLogger('fontTools').setLevel(logging.ERROR)
    import weasyprint
    html_text = render_html(doc, ctx, template_dir, 'pdf')
    weasyprint.HTML(string=html_text, base_url=template_dir).write_pdf(path)


# -- DOCX -------------------------------------------------------------------------
W_NS = 'http://schemas.openxmlformats.org/wordprocessingml/2006/main'
_BAD_XML = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f]')
_BORDERS = ('<w:tblBorders>' + ''.join(
    '<w:%s w:val="single" w:sz="4" w:space="0" w:color="999999"/>' % side
    for side in ('top', 'left', 'bottom', 'right', 'insideH', 'insideV')) + '</w:tblBorders>')


def _tbl(widths_twips, header, rows, header_fill=HEADER_FILL, borders=True):
    """A w:tbl as text: fixed layout, header row repeated on every page.
    ``rows``: lists of (text, right_aligned, fill or None)."""
    parts = ['<w:tbl><w:tblPr><w:tblW w:w="%d" w:type="dxa"/><w:tblLayout w:type="fixed"/>%s'
             '<w:tblCellMar><w:left w:w="60" w:type="dxa"/><w:right w:w="60" w:type="dxa"/>'
             '</w:tblCellMar></w:tblPr><w:tblGrid>' % (sum(widths_twips), _BORDERS if borders else '')]
    parts.extend('<w:gridCol w:w="%d"/>' % w for w in widths_twips)
    parts.append('</w:tblGrid>')
    if header:
        parts.append('<w:tr><w:trPr><w:tblHeader/></w:trPr>')
        for width, label in zip(widths_twips, header, strict=True):
            parts.append('<w:tc><w:tcPr><w:tcW w:w="%d" w:type="dxa"/><w:shd w:val="clear" '
                         'w:color="auto" w:fill="%s"/></w:tcPr><w:p><w:r><w:rPr><w:b/></w:rPr>'
                         '<w:t xml:space="preserve">%s</w:t></w:r></w:p></w:tc>'
                         % (width, header_fill, _esc(label)))
        parts.append('</w:tr>')
    for cells in rows:
        parts.append('<w:tr>')
        for text, right, fill in cells:
            props = ('<w:tcPr><w:shd w:val="clear" w:color="auto" w:fill="%s"/></w:tcPr>' % fill
                     if fill else '')
            jc = '<w:pPr><w:jc w:val="right"/></w:pPr>' if right else ''
            parts.append('<w:tc>%s<w:p>%s<w:r><w:t xml:space="preserve">%s</w:t></w:r></w:p></w:tc>'
                         % (props, jc, text))
        parts.append('</w:tr>')
    parts.append('</w:tbl>')
    return ''.join(parts)


def _docx_rows(section, columns):
    plan = [(c.key, c.number_format is not None, c.status) for c in columns]
    class_key = section.row_class
    for values in section.rows:
        fill = FILLS.get(values.get(class_key))
        cells = []
        for key, numeric, status in plan:
            value = values.get(key)
            text = '' if value is None else (display(value) if numeric or isinstance(value, float)
                                             else str(value))
            if '&' in text or '<' in text or '>' in text:
                text = _esc(text)
            cells.append((text, numeric, fill if status else None))
        yield cells


def write_docx(doc, ctx, path):
    """A Word document staff can edit and file: landscape A4, headings, tables
    with repeated header rows, trends as tables of figures, the signature block.
    python-docx makes the document; the table XML is joined as text and put in
    place of a marker paragraph, which keeps an ~84,000-row sheet fast."""
    from docx import Document as Docx
    from docx.enum.section import WD_ORIENT
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    t, tzcap = ctx['t'], ctx['tzcap']
    word = Docx()
    page = word.sections[0]
    if doc.landscape:
        page.orientation = WD_ORIENT.LANDSCAPE
        page.page_width, page.page_height = Mm(297), Mm(210)
    else:
        page.page_width, page.page_height = Mm(210), Mm(297)
    for side in ('left_margin', 'right_margin', 'top_margin', 'bottom_margin'):
        setattr(page, side, Mm(12))
    usable = int((page.page_width - page.left_margin - page.right_margin) / 635)  # EMU -> twips
    for name in ('Normal', 'Title', 'Heading 1', 'Heading 2', 'Heading 3'):
        style = word.styles[name]
        style.font.name = 'Microsoft YaHei'
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.find(qn('w:rFonts'))
        if fonts is None:
            fonts = rpr.makeelement(qn('w:rFonts'), {})
            rpr.append(fonts)
        for attr in ('w:ascii', 'w:hAnsi', 'w:eastAsia', 'w:cs'):
            fonts.set(qn(attr), 'Microsoft YaHei')
    word.styles['Normal'].font.size = Pt(9)
    word.core_properties.title = doc.title
    word.add_heading(doc.title, 0)
    tables = []

    def put(xml):
        tables.append(xml)
        word.add_paragraph('@@DIALYSIS-TABLE-%d@@' % (len(tables) - 1))

    meta_width = [int(usable * 0.2), int(usable * 0.5)]
    put(_tbl(meta_width, None, [[(_esc(label), False, None), (_esc(display(value)), False, None)]
                                for label, value in doc.meta], borders=False))
    for section in doc.sections:
        if section.kind == 'signatures':
            if not doc.signed:
                continue
            word.add_heading(section.title or '', 1)
            widths = [int(usable * f) for f in (0.2, 0.35, 0.1, 0.35)]
            put(_tbl(widths, None, [[(_esc(role), False, None), (_esc(person or ''), False, None),
                                     (_esc(t('date')), False, None), ('', False, None)]
                                    for role, person in section.signers]))
            continue
        if section.title:
            word.add_heading(section.title, min(section.level - 1, 3) or 1)
        if section.kind == 'text':
            word.add_paragraph(section.text)
            continue
        if not section.rows and section.empty:
            word.add_paragraph(section.empty)
            continue
        columns = section.columns_for('docx')
        labels = labels_of(columns, t, tzcap)
        widths = column_widths(columns, labels, doc.language, section.rows)
        total = sum(widths)
        twips = [int(usable * w / total) for w in widths]
        put(_tbl(twips, labels, _docx_rows(section, columns)))
    buffer = io.BytesIO()
    word.save(buffer)
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, 'w', zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == 'word/document.xml':
                text = data.decode('utf-8')
                pieces = re.split(r'<w:p>(?:(?!</w:p>).)*?@@DIALYSIS-TABLE-(\d+)@@.*?</w:p>', text,
                                  flags=re.S)
                joined = []
                for number, piece in enumerate(pieces):
                    joined.append(tables[int(piece)] if number % 2 else piece)
                text = _BAD_XML.sub('', ''.join(joined))
                out.writestr(info.filename, text.encode('utf-8'),
                             compresslevel=1 if len(text) > 5000000 else 6)
            else:
                out.writestr(info, data)


WRITERS_NEED_TEMPLATES = ('html', 'pdf')


def write(fmt, doc, ctx, path, template_dir):
    """Write one document in one format."""
    if fmt == 'xlsx':
        return write_xlsx(doc, ctx, path)
    if fmt == 'html':
        return write_html(doc, ctx, path, template_dir)
    if fmt == 'pdf':
        return write_pdf(doc, ctx, path, template_dir)
    if fmt == 'docx':
        return write_docx(doc, ctx, path)
    raise ValueError(fmt)
