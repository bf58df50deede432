# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Periods of the documents: a month ``YYYY-MM`` or a quarter ``YYYY-Qn``, in
the hospital's time zone, and the caption every time column carries
(``Asia/Shanghai, UTC+08:00``)."""

from __future__ import absolute_import, division, print_function

import datetime
import re

__metaclass__ = type


class ReportError(Exception):
    """Bad input to the documents: the message names the variable, file, line or key."""


def get_timezone(name):
    try:
        from zoneinfo import ZoneInfo
        return ZoneInfo(name)
    except Exception:
        raise ReportError('report_timezone: expected an IANA time zone such as Asia/Shanghai, '
                          'got %r' % (name,)) from None


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


def months_of(label):
    """The month labels of a period label: ['2026-10', '2026-11', '2026-12'] for 2026-Q4."""
    found = re.match(r'^(\d{4})-Q([1-4])$', label)
    if not found:
        return [label]
    year, first = int(found.group(1)), (int(found.group(2)) - 1) * 3 + 1
    return ['%04d-%02d' % (year, m) for m in range(first, first + 3)]


def tz_caption(tzname, when):
    """``Asia/Shanghai, UTC+08:00``: the zone's name and its offset at ``when``."""
    offset = when.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = '+' if minutes >= 0 else '-'
    minutes = abs(minutes)
    return '%s, UTC%s%02d:%02d' % (tzname, sign, minutes // 60, minutes % 60)
