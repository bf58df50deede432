# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalogue of every label the hospital reads (Simplified Chinese by
default, English selectable). Templates and writers look labels up here by
key; nothing user-facing is spelled inside a template."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

LANGUAGES = ('zh', 'en')

CATALOGUE = {
    # document titles
    'sheet_title': ('巡检记录单', 'Inspection record sheet'),
    'monthly_title': ('月度巡检报告', 'Monthly inspection report'),
    'quarterly_title': ('季度巡检报告', 'Quarterly inspection report'),
    'summary_sheet': ('汇总', 'Summary'),
    'period': ('周期', 'Period'),
    'hospital': ('医院', 'Hospital'),
    'generated_at': ('生成时间', 'Generated at'),
    'project_lead': ('项目负责人', 'Project lead'),
    'engineer': ('巡检工程师', 'Engineer'),
    'signature': ('签字', 'Signature'),
    'hospital_signature': ('医院信息科确认', 'Hospital IT confirmation'),
    'vendor_signature': ('运维方项目负责人', 'Vendor project lead'),
    'date': ('日期', 'Date'),
    # sheet columns (contract clause R1 and DESIGN's sheet fields)
    'col_time': ('巡检时间', 'Inspection time'),
    'col_system': ('系统', 'System'),
    'col_host': ('主机', 'Host'),
    'col_item': ('巡检项目', 'Item inspected'),
    'col_value': ('测量值', 'Measured value'),
    'col_threshold': ('阈值', 'Threshold'),
    'col_result': ('结果', 'Result'),
    'col_anomaly': ('异常描述', 'Anomaly'),
    'col_feedback': ('异常反馈', 'Feedback'),
    'col_resolution': ('处理结果', 'Resolution'),
    'col_engineer': ('巡检工程师', 'Engineer'),
    'col_lead': ('项目负责人', 'Project lead'),
    'col_status': ('状态', 'Status'),
    'col_anomaly_id': ('异常编号', 'Anomaly id'),
    'col_first_seen': ('首次发现', 'First seen'),
    'col_occurrences': ('出现次数', 'Occurrences'),
    'col_severity': ('严重程度', 'Severity'),
    # results and states
    'result_ok': ('正常', 'Normal'),
    'result_warning': ('警告', 'Warning'),
    'result_critical': ('异常', 'Abnormal'),
    'result_error': ('异常', 'Abnormal'),
    'severity_warning': ('警告', 'Warning'),
    'severity_critical': ('严重', 'Critical'),
    'severity_error': ('检查失败', 'Check failed'),
    'status_open': ('未解决', 'Open'),
    'status_resolved': ('已解决', 'Resolved'),
    # systems
    'system_hemodialysis': ('血透信息管理系统', 'Hemodialysis information system'),
    'system_ckd': ('CKD 管理系统', 'CKD management system'),
    'system_pd': ('腹透管理系统', 'Peritoneal dialysis system'),
    'system_shared': ('公共平台', 'Shared infrastructure'),
    # report sections
    'sec_summary': ('概况', 'Summary'),
    'sec_anomalies': ('异常及处理', 'Anomalies and their handling'),
    'sec_missing': ('未巡检或不可达的主机', 'Hosts not inspected or unreachable'),
    'sec_trends': ('资源使用趋势', 'Resource trends'),
    'sec_signatures': ('签字确认', 'Signatures'),
    'hosts_in_inventory': ('纳入巡检的主机', 'Hosts to inspect'),
    'hosts_inspected': ('已巡检主机', 'Hosts inspected'),
    'inspections': ('巡检次数', 'Inspections'),
    'items_checked': ('检查项数', 'Items checked'),
    'anomalies_total': ('异常项', 'Anomalies'),
    'anomalies_open': ('未解决', 'Open'),
    'anomalies_resolved': ('已解决', 'Resolved'),
    'no_anomalies': ('本期未发现异常。', 'No anomaly in this period.'),
    'all_inspected': ('所有主机均已按期巡检。', 'Every host was inspected in this period.'),
    'never_inspected': ('本期无巡检记录', 'No inspection in this period'),
    'last_unreachable': ('最近一次巡检不可达', 'Unreachable at the last inspection'),
    'chart_disk': ('磁盘最高使用率 %', 'Fullest disk %'),
    'chart_memory': ('内存使用率 %', 'Memory %'),
    'chart_cpu': ('CPU 使用率 %', 'CPU %'),
    'no_trend_data': ('无趋势数据', 'No trend data'),
    'outputs_written': ('已生成', 'Written'),
    # item labels (by item identifier prefix)
    'item_cpu:usage': ('CPU 使用率', 'CPU usage'),
    'item_cpu:load': ('CPU 每核负载', 'Load per core'),
    'item_memory:ram': ('内存使用率', 'Memory usage'),
    'item_memory:swap': ('交换分区使用率', 'Swap usage'),
    'item_disk': ('磁盘空间 {arg}', 'Disk space {arg}'),
    'item_inode': ('索引节点 {arg}', 'Inodes {arg}'),
    'item_system:uptime': ('运行时间', 'Uptime'),
    'item_process:top': ('占用最高的进程', 'Busiest processes'),
    'item_service': ('服务 {arg}', 'Service {arg}'),
    'item_clock:sync': ('时钟同步', 'Clock synchronisation'),
    'item_log': ('日志错误 {arg}', 'Log errors {arg}'),
    'item_host:reachability': ('主机可达性', 'Host reachability'),
    'item_task': ('巡检任务 {arg}', 'Inspection task {arg}'),
    'item_inspection:missing': ('本期巡检', 'Inspection in period'),
    'item_inspection:state': ('日志位置保存', 'Log position saving'),
    # anomaly descriptions (by item identifier prefix); {value} {unit} {warning} {critical} {arg}
    'desc_cpu:usage': ('CPU 使用率 {value}%，超过{level}阈值 {limit}%',
                       'CPU usage {value}%, above the {level} level {limit}%'),
    'desc_cpu:load': ('每核负载 {value}，超过{level}阈值 {limit}',
                      'Load per core {value}, above the {level} level {limit}'),
    'desc_memory:ram': ('内存使用率 {value}%，超过{level}阈值 {limit}%',
                        'Memory usage {value}%, above the {level} level {limit}%'),
    'desc_memory:swap': ('交换分区使用率 {value}%，超过{level}阈值 {limit}%',
                         'Swap usage {value}%, above the {level} level {limit}%'),
    'desc_disk': ('文件系统 {arg} 使用率 {value}%，超过{level}阈值 {limit}%',
                  'Filesystem {arg} is {value}% full, above the {level} level {limit}%'),
    'desc_inode': ('文件系统 {arg} 索引节点使用率 {value}%，超过{level}阈值 {limit}%',
                   'Filesystem {arg} uses {value}% of its inodes, above the {level} level {limit}%'),
    'desc_service': ('服务 {arg} 状态为 {value}（应为 active）',
                     'Service {arg} is {value} (should be active)'),
    'desc_clock:sync': ('系统时钟未与时间源同步', 'The clock is not synchronised to a time source'),
    'desc_log': ('日志 {arg} 自上次巡检以来出现 {value} 条错误',
                 'Log {arg}: {value} error lines since the previous inspection'),
    'desc_host:reachability': ('主机无法连接', 'The host could not be reached'),
    'desc_task': ('巡检任务执行失败', 'The inspection task failed'),
    'desc_inspection:missing': ('本期没有该主机的巡检记录', 'No inspection of this host in the period'),
    'level_warning': ('警告', 'warning'),
    'level_critical': ('严重', 'critical'),
    'unit_s': ('秒', 's'),
    'unit_lines': ('行', 'lines'),
    'unit_entries': ('条', 'entries'),
    'unit_per core': ('每核', 'per core'),
}


class Translator(object):
    """Label lookup for one language: ``t('sheet_title')``."""

    def __init__(self, language='zh'):
        if language not in LANGUAGES:
            raise ValueError('report_language: expected one of %s, got %r'
                             % (', '.join(LANGUAGES), language))
        self.language = language
        self.index = LANGUAGES.index(language)

    def __call__(self, key, **kwargs):
        entry = CATALOGUE.get(key)
        if entry is None:
            raise KeyError('no label %r in the catalogue' % key)
        text = entry[self.index]
        return text.format(**kwargs) if kwargs else text

    def has(self, key):
        return key in CATALOGUE

    @staticmethod
    def split_item(item):
        """('disk', '/var') for 'disk:/var'; ('cpu:usage', '') for fixed items."""
        if ('item_' + item) in CATALOGUE:
            return item, ''
        prefix, _, arg = item.partition(':')
        return prefix, arg

    def item_label(self, item):
        key, arg = self.split_item(item)
        if ('item_' + key) in CATALOGUE:
            return self('item_' + key, arg=arg)
        return item

    def result(self, status):
        return self('result_' + status)

    def system(self, system):
        key = 'system_' + str(system)
        return self(key) if key in CATALOGUE else str(system)

    def unit(self, unit):
        if unit in (None, '', '%'):
            return unit or ''
        key = 'unit_' + unit
        return self(key) if key in CATALOGUE else unit

    def describe(self, item):
        """A sentence in the report's language for a non-ok item (falls back
        to the module's English message when the catalogue has no pattern)."""
        key, arg = self.split_item(item.get('item', ''))
        desc_key = 'desc_' + key
        if item.get('status') == 'error' and key not in ('host:reachability', 'task',
                                                          'inspection:missing'):
            return '%s: %s' % (self('severity_error'), item.get('message', ''))
        if desc_key not in CATALOGUE:
            return item.get('message', '')
        threshold = item.get('threshold') or {}
        level = 'critical' if item.get('status') == 'critical' else 'warning'
        limit = threshold.get(level)
        value = item.get('value')
        return self(desc_key, arg=arg, value=format_number(value), level=self('level_' + level),
                    limit=format_number(limit))


def format_number(value):
    """A figure as the documents print it: floats to one decimal, no trailing zero."""
    if isinstance(value, float):
        return ('%.1f' % value).rstrip('0').rstrip('.')
    return '' if value is None else str(value)
