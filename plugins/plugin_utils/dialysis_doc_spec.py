# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vocabulary a document type is declared in, and the registry of types.

A document type (``DocumentType``) declares what it reads (record kinds, the
periods it is made for), its model function (store + context -> model), its
sections (model + context -> a list of ``Table``, ``Text``, ``Trends`` and
``Signatures``), its file name and its title. The shared writers in
``dialysis_doc_writers`` render any declared document to XLSX, HTML, PDF and
DOCX; a later duty adds a document by declaring one and calling ``register``.

Columns are declared once for every format: a key into the row dicts, a label
key in the catalogue (``{tz}`` in a label is replaced by the time zone caption),
a width in characters, and for figures a number format. ``only`` limits a
column to some formats (a technical detail column only in the HTML sheet).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

FORMATS = ('xlsx', 'html', 'pdf', 'docx')
REGISTRY = {}


class Column(object):
    """One column of a table, for every format."""

    def __init__(self, key, label, width=12, number_format=None, int_format=None,
                 align=None, only=None, tooltip=None, status=False):
        self.key = key
        self.label = label
        self.width = width
        self.number_format = number_format      # e.g. '0.0': numbers stay numbers in XLSX
        self.int_format = int_format or number_format
        self.align = align or ('right' if number_format else 'left')
        self.only = tuple(only) if only else None
        self.tooltip = tooltip                  # row key shown as a tooltip (HTML only)
        self.status = status                    # the cell coloured by the row's state

    def shown_in(self, fmt):
        return self.only is None or fmt in self.only


class Section(object):
    kind = 'section'

    def __init__(self, title=None, sheet=None, level=2):
        self.title = title
        self.sheet = sheet
        self.level = level


class Table(Section):
    """Rows of dicts under declared columns. ``sheet`` names the XLSX sheet
    (None: the document's first sheet); ``main`` puts the header on the
    sheet's first row with a frozen pane and a filter."""
    kind = 'table'

    def __init__(self, columns, rows, title=None, sheet=None, empty=None, main=False,
                 row_class='_class', level=2):
        Section.__init__(self, title, sheet, level)
        self.columns = list(columns)
        self.rows = rows
        self.empty = empty
        self.main = main
        self.row_class = row_class

    def columns_for(self, fmt):
        return [c for c in self.columns if c.shown_in(fmt)]


class Text(Section):
    kind = 'text'

    def __init__(self, text, title=None, sheet=None, level=2):
        Section.__init__(self, title, sheet, level)
        self.text = text


class Trends(Table):
    """Time series per group (a host): charts in HTML and PDF when a group has
    two points or more, one sentence for a single point, nothing for none;
    a table of the points in XLSX and DOCX. ``series`` are (column key,
    colour); ``single`` formats the one-point sentence from a row."""
    kind = 'trends'

    def __init__(self, columns, rows, group, time_key, series, single, title=None, sheet=None,
                 empty=None, level=3):
        Table.__init__(self, columns, rows, title=title, sheet=sheet, empty=empty, level=level)
        self.group = group
        self.time_key = time_key
        self.series = list(series)
        self.single = single


class Signatures(Section):
    """The signature block: (role label, printed name) pairs, each with a date."""
    kind = 'signatures'

    def __init__(self, signers, title=None, sheet=None):
        Section.__init__(self, title, sheet)
        self.signers = list(signers)


class Document(object):
    """One document, ready for the writers."""

    def __init__(self, name, title, meta, sections, language, signed=True, landscape=True,
                 first_sheet=None):
        self.name = name
        self.title = title
        self.meta = list(meta)            # (label, value) pairs under the title
        self.sections = list(sections)
        self.language = language
        self.signed = signed
        self.landscape = landscape
        self.first_sheet = first_sheet or title


class DocumentType(object):
    """The declaration of one document of the family (see module docstring).

    name:        identifier (``document`` argument), e.g. ``inspection_sheet``
    title:       catalogue key of the title, or a function(context) -> key
    file_stem:   file name stem, or a function(context) -> stem; files are
                 ``<stem>-<period>.<language>.<ext>``
    kinds:       record kinds read from the store
    periods:     periods it is made for (month, quarter)
    model:       function(store, context) -> model (shared by types that read the same)
    sections:    function(model, context) -> [Section]
    formats:     formats written by default
    signed:      whether it carries the signature block
    first_sheet: catalogue key of the XLSX sheet holding the title and meta
    """

    def __init__(self, name, title, file_stem, kinds, model, sections, periods=('month', 'quarter'),
                 formats=FORMATS, signed=True, landscape=True, first_sheet='summary_sheet'):
        self.name = name
        self.title = title
        self.file_stem = file_stem
        self.kinds = tuple(kinds)
        self.model = model
        self.sections = sections
        self.periods = tuple(periods)
        self.formats = tuple(formats)
        self.signed = signed
        self.landscape = landscape
        self.first_sheet = first_sheet

    def title_key(self, context):
        return self.title(context) if callable(self.title) else self.title

    def file_name(self, context, fmt):
        stem = self.file_stem(context) if callable(self.file_stem) else self.file_stem
        return '%s-%s.%s.%s' % (stem, context['label'], context['language'], fmt)


def register(doc_type):
    REGISTRY[doc_type.name] = doc_type
    return doc_type


def get(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError('report_documents: unknown document %r; expected one of %s'
                       % (name, ', '.join(sorted(REGISTRY)))) from None
