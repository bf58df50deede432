# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Treatment hours: the shift calendar of a clinical system (controller only).

In-centre hemodialysis runs two or three shifts a day, typically Monday to
Saturday, roughly 06:30-23:30; CKD clinics and PD clinics keep office hours
(PD patients treat at home: only the data services matter). A calendar in
inventory (``dialysis_treatment_hours``) replaces the system's default:

    dialysis_treatment_hours:
      timezone: Asia/Shanghai          # IANA zone of the hospital
      days: [mon, tue, wed, thu, fri, sat]
      hours: ["06:30-23:30"]           # windows; "22:00-02:00" runs past midnight
      holidays: ["2026-10-01"]         # dates with no scheduled treatment

A window belongs to the day it starts on (a Saturday night window that runs
past midnight still counts on Sunday morning). The time window alone never
protects a patient - emergency dialysis can happen at any hour; the live check
of running treatments does (the treatment-hours guard). The inspection uses
the calendar only to judge whether a silent dialysis machine is a finding.
"""

from __future__ import absolute_import, division, print_function

import datetime
import re
import zoneinfo

__metaclass__ = type

DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
DEFAULT_TIMEZONE = 'Asia/Shanghai'
DEFAULT_CALENDARS = {
    'hemodialysis': {'days': list(DAYS[:6]), 'hours': ['06:30-23:30']},
    'ckd': {'days': list(DAYS[:5]), 'hours': ['08:00-17:30']},
    'pd': {'days': list(DAYS[:5]), 'hours': ['08:00-17:30']},
    'shared': {'days': list(DAYS[:6]), 'hours': ['06:30-23:30']},
}
_WINDOW = re.compile(r'^\s*([0-2]?\d):([0-5]\d)\s*-\s*([0-2]?\d):([0-5]\d)\s*$')
_KEYS = ('timezone', 'days', 'hours', 'holidays')


def _minutes(hours, minutes):
    return int(hours) * 60 + int(minutes)


def validate_calendar(value, system='hemodialysis', varname='dialysis_treatment_hours'):
    """``(calendar, errors)``: the system's default calendar with ``value``'s
    keys over it; errors name the key and the expected form."""
    base = DEFAULT_CALENDARS.get(system, DEFAULT_CALENDARS['hemodialysis'])
    calendar = {'timezone': DEFAULT_TIMEZONE, 'days': list(base['days']), 'hours': list(base['hours']),
                'holidays': [], 'windows': []}
    errors = []
    if value is None or value == {}:
        value = {}
    if not isinstance(value, dict):
        return calendar, ['%s: expected a mapping with timezone, days, hours, holidays, got %r'
                          % (varname, value)]
    for key in sorted(set(value) - set(_KEYS)):
        errors.append('%s: unknown key %r; expected %s' % (varname, key, ', '.join(_KEYS)))
    zone = value.get('timezone', DEFAULT_TIMEZONE)
    try:
        zoneinfo.ZoneInfo(str(zone))
        calendar['timezone'] = str(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors.append('%s.timezone: expected an IANA time zone such as Asia/Shanghai, got %r'
                      % (varname, zone))
    if 'days' in value:
        days = value['days']
        if not isinstance(days, list) or not all(str(d).lower()[:3] in DAYS for d in days):
            errors.append('%s.days: expected a list of days among %s, got %r'
                          % (varname, ', '.join(DAYS), days))
        else:
            calendar['days'] = sorted(set(str(d).lower()[:3] for d in days), key=DAYS.index)
    if 'hours' in value:
        hours = value['hours']
        if not isinstance(hours, list) or not hours:
            errors.append('%s.hours: expected a list of windows such as ["06:30-23:30"], got %r'
                          % (varname, hours))
        else:
            calendar['hours'] = list(hours)
    for number, window in enumerate(calendar['hours']):
        match = _WINDOW.match(str(window))
        start = end = None
        if match:
            start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if start is None or start >= 24 * 60 or end > 24 * 60 or start == end:
            errors.append('%s.hours[%d]: expected HH:MM-HH:MM (24-hour clock, e.g. 06:30-23:30 or '
                          '22:00-02:00), got %r' % (varname, number, window))
            continue
        calendar['windows'].append((start, end if end > start else end + 24 * 60))
    holidays = value.get('holidays', [])
    if not isinstance(holidays, list):
        errors.append('%s.holidays: expected a list of dates (YYYY-MM-DD), got %r' % (varname, holidays))
        holidays = []
    for number, day in enumerate(holidays):
        try:
            calendar['holidays'].append(day if isinstance(day, datetime.date)
                                        else datetime.date.fromisoformat(str(day)))
        except ValueError:
            errors.append('%s.holidays[%d]: expected a date YYYY-MM-DD, got %r' % (varname, number, day))
    return calendar, errors


def in_treatment_hours(calendar, now=None):
    """Whether ``now`` (an aware datetime; default: this moment) falls in a
    treatment window of a validated ``calendar``."""
    zone = zoneinfo.ZoneInfo(calendar['timezone'])
    local = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(zone)
    minute = local.hour * 60 + local.minute
    # Today's windows, and yesterday's that run past midnight into today.
    for offset, day in ((0, local.date()), (24 * 60, local.date() - datetime.timedelta(days=1))):
        if DAYS[day.weekday()] not in calendar['days'] or day in calendar['holidays']:
            continue
        for start, end in calendar['windows']:
            if start <= minute + offset < end:
                return True
    return False
