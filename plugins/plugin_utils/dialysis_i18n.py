# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one catalogue of every label the hospital reads (Simplified Chinese by
default, English selectable). Templates and writers look labels up here by
key; nothing user-facing is spelled inside a template."""

from __future__ import absolute_import, division, print_function

import datetime

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_logscan import human_bytes

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
    'col_time': ('巡检时间 ({tz})', 'Inspection time ({tz})'),
    'col_system': ('系统', 'System'),
    'col_host': ('主机', 'Host'),
    'col_item': ('巡检项目', 'Item inspected'),
    'col_value': ('测量值', 'Measured value'),
    'col_unit': ('单位', 'Unit'),
    'col_warning': ('警告阈值', 'Warning level'),
    'col_critical': ('严重阈值', 'Critical level'),
    'col_result': ('结果', 'Result'),
    'col_anomaly': ('异常描述', 'Anomaly'),
    'col_description': ('说明', 'Description'),
    'col_detail': ('技术细节', 'Technical detail'),
    'col_feedback': ('异常反馈', 'Feedback'),
    'col_resolution': ('处理结果', 'Resolution'),
    'col_engineer': ('巡检工程师', 'Engineer'),
    'col_lead': ('项目负责人', 'Project lead'),
    'col_status': ('状态', 'Status'),
    'col_anomaly_id': ('异常编号', 'Anomaly id'),
    'col_first_seen': ('首次发现 ({tz})', 'First seen ({tz})'),
    'col_last_seen': ('最近发现 ({tz})', 'Last seen ({tz})'),
    'col_occurrences': ('出现次数', 'Times seen'),
    'col_severity': ('严重程度', 'Severity'),
    'col_reason': ('原因', 'Reason'),
    'col_disk': ('磁盘最高使用率 %', 'Fullest disk %'),
    'col_memory': ('内存使用率 %', 'Memory %'),
    'col_cpu': ('CPU 使用率 %', 'CPU %'),
    'col_month': ('月份', 'Month'),
    # results and states
    'result_ok': ('正常', 'Normal'),
    'result_skipped': ('未检查', 'Not checked'),
    'result_warning': ('警告', 'Warning'),
    'result_critical': ('异常', 'Abnormal'),
    'result_error': ('检查失败', 'Check failed'),
    'result_missing': ('未巡检', 'Not inspected'),
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
    'sec_monthly_notes': ('各月异常反馈与处理', 'Monthly feedback and resolutions'),
    'hosts_in_inventory': ('纳入巡检的主机', 'Hosts to inspect'),
    'hosts_inspected': ('已巡检主机', 'Hosts inspected'),
    'hosts_not_inspected': ('未巡检主机', 'Hosts not inspected'),
    'inspections': ('巡检次数', 'Inspections'),
    'items_checked': ('检查项数', 'Items checked'),
    'anomalies_total': ('异常项', 'Anomalies'),
    'anomalies_open': ('未解决', 'Open'),
    'anomalies_resolved': ('已解决', 'Resolved'),
    'no_anomalies': ('本期未发现异常。', 'No anomaly in this period.'),
    'no_monthly_notes': ('各月均无异常反馈记录。', 'No monthly feedback was recorded.'),
    'all_inspected': ('所有主机均已按期巡检。', 'Every host was inspected in this period.'),
    'never_inspected': ('本期无巡检记录', 'No inspection in this period'),
    'last_unreachable': ('最近一次巡检不可达（{time}）', 'Unreachable at the last inspection ({time})'),
    'not_inspectable_windows': ('Windows 主机：暂不支持自动巡检，需人工巡检',
                                'Windows host: no automated inspection yet; inspect by hand'),
    'no_trend_data': ('本系统本期无趋势数据。', 'No trend data for this system in the period.'),
    'trend_single': ('本期仅一次巡检（{time}）：磁盘 {disk}%、内存 {memory}%、CPU {cpu}%',
                     'One inspection in the period ({time}): disk {disk}%, memory {memory}%, CPU {cpu}%'),
    'trend_none_value': ('无', 'n/a'),
    'chart_disk': ('磁盘最高使用率 %', 'Fullest disk %'),
    'chart_memory': ('内存使用率 %', 'Memory %'),
    'chart_cpu': ('CPU 使用率 %', 'CPU %'),
    'outputs_written': ('已生成', 'Written'),
    # changes of the period (restarts, patches) and the treatment-hours guard's refusals
    # and overrides (monthly report, contract clauses R2 and R12)
    'sec_changes': ('变更与治疗时段守护记录', 'Changes and treatment-hours guard'),
    'no_changes': ('本期无重启、补丁等变更，治疗时段守护无拒绝或越权放行记录。',
                   'No restart, patch or other change in this period; the treatment-hours guard '
                   'refused nothing and was not overridden.'),
    'col_change_time': ('时间 ({tz})', 'Time ({tz})'),
    'col_hosts': ('主机', 'Hosts'),
    'col_event': ('事项', 'Event'),
    'col_change_detail': ('内容与原因', 'What and why'),
    'col_outcome': ('结果', 'Outcome'),
    'col_ticket': ('变更单号', 'Change ticket'),
    'col_operator': ('操作人', 'Operator'),
    'event_guard_refused': ('治疗时段守护：拒绝{duty}', 'Treatment-hours guard refused: {duty}'),
    'event_guard_overridden': ('治疗时段守护：越权放行{duty}', 'Treatment-hours guard overridden: {duty}'),
    'event_restart': ('服务重启', 'Service restart'),
    'event_patch': ('系统补丁', 'Patching'),
    'event_db_maintenance': ('数据库维护', 'Database maintenance'),
    'event_upgrade': ('系统升级', 'Upgrade'),
    'event_rollback': ('版本回退', 'Rollback'),
    'duty_restart': ('重启', 'restart'),
    'duty_patch': ('打补丁', 'patching'),
    'duty_db_maintenance': ('数据库维护', 'database maintenance'),
    'duty_upgrade': ('升级', 'upgrade'),
    'duty_rollback': ('回退', 'rollback'),
    'duty_restore_drill': ('恢复演练', 'restore drill'),
    'duty_dr_drill': ('灾难恢复演练', 'disaster-recovery drill'),
    'guard_in_shift': ('{system}处于治疗时段', '{system}: inside treatment hours'),
    'guard_treatments_running': ('{system}有 {running} 例治疗正在进行',
                                 '{system}: {running} treatment(s) running'),
    'guard_check_unavailable': ('{system}的在治人数检查无应答，视为可能有治疗进行',
                                '{system}: the treatments-running check did not answer; treatments may be '
                                'running'),
    'guard_check_missing': ('{system}未配置在治人数检查，视为可能有治疗进行',
                            '{system}: no treatments-running check is configured; treatments may be running'),
    'guard_no_ticket': ('未提供变更单号', 'no change ticket'),
    'guard_override_reason': ('越权原因：{reason}', 'Override reason: {reason}'),
    'outcome_refused': ('已拒绝，未做任何变更', 'Refused; nothing was changed'),
    'outcome_overridden': ('越权放行，已记录', 'Overridden; recorded'),
    'outcome_ok': ('成功', 'Succeeded'),
    'outcome_failed': ('失败', 'Failed'),
    # restarts (roles/restart, contract clause R2): the restart record's items, reason codes
    # and outcomes; health_check items serve every duty that checks health after a change
    'item_restart': ('重启 {arg}', 'Restart {arg}'),
    'item_restart:reboot': ('主机重启', 'Host reboot'),
    'item_restart:peers': ('同层级对端主机健康状态', "Health of the tier's peers"),
    'item_health_check': ('健康检查 {arg}', 'Health check {arg}'),
    'reason_restart_not_back': ('{arg} 已重启，但在等待时间内未恢复正常；后续主机未重启',
                                '{arg} was restarted but was not healthy again within the wait; the '
                                'rollout stopped'),
    'reason_restart_restart_failed': ('{arg} 重启失败；后续主机未重启',
                                      'The restart of {arg} failed; the rollout stopped'),
    'reason_restart_peer_unhealthy': ('同层级对端主机不健康，未重启 {arg}',
                                      'A peer of the tier was not healthy; {arg} was not restarted'),
    'reason_restart:reboot_not_back': ('主机已重启，但在等待时间内未恢复正常；后续主机未重启',
                                       'The host was rebooted but was not healthy again within the wait; '
                                       'the rollout stopped'),
    'reason_restart:reboot_restart_failed': ('主机重启失败；后续主机未重启',
                                             'The reboot failed; the rollout stopped'),
    'reason_restart:reboot_peer_unhealthy': ('同层级对端主机不健康，本机未重启',
                                             'A peer of the tier was not healthy; the host was not rebooted'),
    'reason_restart:peers_peer_unhealthy': ('同层级对端主机 {value} 不健康：为避免同时停机，本机未重启',
                                            'Peer(s) {value} of the tier not healthy: this host was not '
                                            'restarted, so that both are never down together'),
    'reason_health_check_unhealthy': ('健康检查 {arg} 未通过', 'Health check {arg} failed'),
    'outcome_restarted': ('已重启，健康检查通过', 'Restarted; healthy again'),
    'outcome_peer_unhealthy': ('未重启：对端主机不健康', 'Not restarted: a peer was not healthy'),
    'outcome_restart_failed': ('重启失败，已停止后续主机', 'Restart failed; rollout stopped'),
    'outcome_not_back': ('重启后未恢复，已停止后续主机', 'Not healthy again; rollout stopped'),
    # upgrades and rollbacks (roles/upgrade, contract clause R11, helper U): the upgrade and
    # rollback records' items, reason codes and outcomes
    'item_upgrade:version': ('升级版本', 'Upgrade'),
    'item_upgrade:backup': ('升级前数据库备份', 'Database backup before the migration'),
    'item_upgrade:database': ('数据库结构', 'Database schema'),
    'item_upgrade:rollback': ('自动回退', 'Automatic rollback'),
    'item_upgrade:collector': ('数据采集持续写入', 'Collector still writing'),
    'item_upgrade:recovered': ('中断运行的恢复', 'Interrupted run put back'),
    'item_rollback:version': ('版本回退', 'Rollback'),
    'item_rollback:backup': ('回退前数据库备份', 'Database backup before the rollback'),
    'item_rollback:database': ('数据库结构', 'Database schema'),
    'item_rollback:collector': ('数据采集持续写入', 'Collector still writing'),
    'item_rollback:recovered': ('中断运行的恢复', 'Interrupted run put back'),
    'item_health': ('{arg} 运行状况', 'Health of {arg}'),
    'reason_health_unhealthy': ('{arg} 健康检查未通过', '{arg} failed its health checks'),
    'reason_health_not_checked': ('{arg} 未做健康检查', '{arg} was not checked'),
    'reason_upgrade:version_rolled_back_automatically': (
        '升级 {value} 健康检查未通过，已自动回退（程序与数据库）',
        'Upgrade {value} failed its health checks and was rolled back automatically (code and database)'),
    'reason_upgrade:version_rollback_failed': (
        '升级 {value} 失败，自动回退未能恢复正常运行，需立即处理',
        'Upgrade {value} failed and the automatic rollback did not bring the old release back healthy: '
        'act now'),
    'reason_upgrade:version_unhealthy_after_reopen': (
        '升级 {value} 后恢复写入时健康检查未通过；已过不可回退点，是否回退须决定',
        'Upgrade {value}: a check failed after writes were taken again; past the point of no return, '
        'rolling back is a decision'),
    'reason_upgrade:version_failed': (
        '升级 {value} 在变更前停止', 'Upgrade {value} stopped before any change'),
    'reason_rollback:version_rollback_failed': ('回退 {value} 未成功，需立即处理',
                                                'Rollback {value} failed: act now'),
    'reason_backup_unverified': ('备份未通过校验', 'The backup was not verified'),
    'reason_backup_missing': ('迁移前没有经过校验的备份', 'Migrated without a verified backup'),
    'reason_collector_silent': ('升级后数据采集停止写入', 'The collector stopped writing after the change'),
    'reason_interrupted_run': (
        '上一次运行被中断（{value}），本次已先恢复',
        'An earlier run was interrupted ({value}); this run put it back first'),
    'reason_not_checked': ('检查项 {item} 未检查', 'Item {item} was not checked'),
    'outcome_upgraded': ('已升级，健康检查通过', 'Upgraded; healthy'),
    'outcome_rolled_back_automatically': (
        '健康检查未通过，已自动回退', 'Health check failed; rolled back automatically'),
    'outcome_rollback_failed': ('回退未成功，需立即处理', 'Rollback failed; act now'),
    'outcome_unhealthy_after_reopen': (
        '升级后运行异常，回退须决定', 'Unhealthy after the upgrade; rollback needs a decision'),
    'outcome_rolled_back': ('已按决定回退', 'Rolled back by decision'),
    # 系统升级记录 (plugins/plugin_utils/dialysis_doc_upgrade.py, helper U)
    'upgrade_record_title': ('系统升级记录', 'System upgrade record'),
    'sec_version_history': ('版本管理：升级与回退记录', 'Version history: upgrades and rollbacks'),
    'sec_upgrade_details': ('升级明细', 'Upgrade details'),
    'no_upgrades': ('本期无升级或回退。', 'No upgrade or rollback in this period.'),
    'col_versions': ('版本', 'Versions'),
    'col_downtime': ('停写时长', 'Writes refused'),
    'col_field': ('项目', 'Field'),
    'col_value_text': ('内容', 'Content'),
    'field_date': ('日期', 'Date'),
    'field_versions': ('版本（升级前 → 升级后）', 'Version (from → to)'),
    'field_modules': ('更新模块', 'Modules changed'),
    'field_notes': ('版本说明', 'Release notes'),
    'field_reason': ('变更原因', 'Reason'),
    'field_risk': ('风险评估', 'Risk assessment'),
    'field_backup': ('备份（已做并校验）', 'Backup taken and verified'),
    'field_database': ('数据库', 'Database'),
    'field_test': ('测试结果', 'Test result'),
    'field_plan': ('回退方案与触发条件', 'Rollback plan and trigger'),
    'field_after': ('升级后运行情况', 'How it runs afterwards'),
    'field_scope': ('影响范围', 'Scope of impact'),
    'field_rollback_time': ('从检查失败到旧版本恢复正常', 'From the failed check to the old release healthy'),
    'field_recovered': ('中断运行的恢复', 'Interrupted run'),
    'upgrade_none': ('无', 'none'),
    'upgrade_seconds': ('{value} 秒', '{value} s'),
    'upgrade_healthy': ('正常', 'healthy'),
    'upgrade_unhealthy': ('异常', 'not healthy'),
    'upgrade_host_health': ('{host}：{state}（版本 {version}，数据库结构 {schema}）',
                            '{host}: {state} (release {version}, database schema {schema})'),
    'upgrade_collector_ok': ('数据采集持续写入（最新数据 {age} 秒前）',
                             'the collector still writes (newest reading {age} s old)'),
    'upgrade_collector_silent': ('数据采集已停止写入（最新数据 {age} 秒前）',
                                 'the collector stopped writing (newest reading {age} s old)'),
    'upgrade_collector_not_judged': ('升级前数据采集未在写入，未作判断',
                                     'the collector was not writing before: not judged'),
    'upgrade_no_backup': ('无数据库迁移，无需备份', 'no migration, no backup needed'),
    'upgrade_backup_verified': ('迁移前已备份并校验：{path}（{entries} 项，{size} 字节，sha256 {sha}…）',
                                'taken right before the migration and checked: {path} ({entries} entries, '
                                '{size} bytes, sha256 {sha}…)'),
    'upgrade_backup_unverified': ('备份未通过校验：{path}', 'the backup did not verify: {path}'),
    'upgrade_schema': ('数据库结构 {before} → {after}', 'schema {before} → {after}'),
    'upgrade_applied': ('已执行迁移 {migrations}', 'migrations applied: {migrations}'),
    'upgrade_undone': ('已撤销迁移 {migrations}', 'migrations undone: {migrations}'),
    'upgrade_restored': ('已从迁移前备份恢复', 'restored from the pre-migration backup'),
    'upgrade_no_risk_assessment': ('本次运行未附风险评估（升级风险评估文档尚未实现）',
                                   'no risk assessment attached to this run (the risk assessment document is '
                                   'not built yet)'),
    'upgrade_no_test_environment': ('清单中无测试环境，未在测试环境升级',
                                    'no test environment in the inventory: not tested there'),
    'upgrade_plan': ('在不可回退点（新版本恢复写入）之前，任何健康检查失败即自动回退程序与数据库：'
                     '有降级迁移时执行降级迁移，否则恢复迁移前备份；'
                     '失败的版本保留在磁盘上',
                     'Before the point of no return (writes taken on the new release) any failed health '
                     'check rolls code and database back automatically: the down-migrations when the '
                     'release has them, else the pre-migration backup; the failed release stays on disk'),
    'upgrade_trigger': ('本次触发：{trigger}；数据库回退方式：{method}',
                        'Triggered this time by: {trigger}; the database went back by {method}'),
    'upgrade_method_down': ('降级迁移', 'down-migration'),
    'upgrade_method_restore': ('恢复备份', 'restore of the backup'),
    'upgrade_method_none': ('无需回退', 'nothing to undo'),
    'rollback_plan': ('按决定回退：先备份数据库，执行当前版本的降级迁移，逐台切换并做健康检查',
                      "Rollback by decision: a backup first, the running release's down-migrations, one host "
                      'at a time switched and checked'),
    'upgrade_scope': ('主机 {hosts}；停写时长 {downtime}', 'hosts {hosts}; writes refused for {downtime}'),
    'upgrade_recovered': ('上一次运行在 {state} 状态被中断，本次已先恢复',
                          'an earlier run was interrupted in state {state}; this run put it back first'),
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
    'item_machine': ('透析机 {arg} 数据上传', 'Dialysis machine {arg} data'),
    'item_machine_data': ('透析机数据采集（{arg}）', 'Machine data collection ({arg})'),
    'item_queue': ('接口失败消息队列 {arg}', 'Failed-message queue {arg}'),
    'item_endpoint': ('接口连通 {arg}', 'Interface endpoint {arg}'),
    'item_collector': ('数据采集服务 {arg}', 'Collector service {arg}'),
    # anomaly descriptions from figures (by item identifier prefix)
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
    'desc_service': ('服务 {arg} 状态为{value}（应为运行中）',
                     'Service {arg} is {value} (should be running)'),
    'desc_clock:sync': ('系统时钟未与时间源同步', 'The clock is not synchronised to a time source'),
    'desc_log': ('日志 {arg} 自上次巡检以来出现 {value} 条错误',
                 'Log {arg}: {value} error lines since the previous inspection'),
    'desc_host:reachability': ('主机无法连接', 'The host could not be reached'),
    'desc_machine': ('治疗时段内透析机 {arg} 已 {value} 分钟无数据上传，超过{level}阈值 {limit} 分钟',
                     'No reading from dialysis machine {arg} for {value} minutes during treatment hours, '
                     'above the {level} level {limit} minutes'),
    'desc_queue': ('接口队列 {arg} 有 {value} 条发送失败的消息积压，超过{level}阈值 {limit} 条',
                   'Queue {arg} holds {value} failed messages, above the {level} level {limit}'),
    'desc_collector': ('数据采集服务 {arg} 状态为{value}（应为运行中）',
                       'Collector service {arg} is {value} (should be running)'),
    'desc_task': ('巡检任务执行失败', 'The inspection task failed'),
    'desc_inspection:missing': ('本期没有该主机的巡检记录', 'No inspection of this host in the period'),
    'desc_generic': ('检查项 {item} 状态为{result}', 'Item {item}: {result}'),
    # sentences from reason codes: reason_<item prefix>_<code>, then reason_<code>
    'reason_log_not_found': ('日志 {arg} 未找到（{path}）', 'Log {arg} not found ({path})'),
    'reason_log_journal_unreadable': ('无法读取系统日志', 'The system journal could not be read'),
    'reason_log_unreadable': ('日志 {arg} 存在但无法读取（{path}），本次未扫描',
                              'Log {arg} exists but could not be read ({path}); not scanned'),
    'reason_log_partial_scan': ('日志 {arg} 自上次巡检以来在已扫描部分出现 {value} 条错误',
                                'Log {arg}: {value} error lines since the previous inspection '
                                'in the part that was read'),
    'reason_service_not_found': ('服务 {arg} 未安装', 'Service {arg} is not installed'),
    'reason_service_systemctl_failed': ('无法查询服务 {arg} 的状态（服务管理命令执行失败）',
                                        'Could not query service {arg} (the service manager failed)'),
    'reason_service_no_systemd': ('无法检查服务 {arg}：主机未运行服务管理器，也没有对应的启动脚本',
                                  'Cannot check service {arg}: no service manager and no init script'),
    'reason_service_status_unknown': ('服务 {arg} 状态未知', 'The state of service {arg} is unknown'),
    'reason_clock:sync_clock_unreadable': ('无法读取系统时钟同步状态',
                                           'The clock synchronisation state could not be read'),
    'reason_disk_unreadable': ('无法读取文件系统 {arg} 的使用情况',
                               'The usage of filesystem {arg} could not be read'),
    'reason_inspection:state_save_failed': (
        '无法保存日志读取位置，下次巡检将重新扫描这些日志',
        'Log positions could not be saved; the next inspection rescans the logs'),
    # clinical items (dialysis_clinical): machine data, queues, endpoints, collectors
    'reason_machine_no_readings': ('治疗时段内透析机 {arg} 没有任何数据上传记录',
                                   'Dialysis machine {arg} has never sent a reading (treatment hours)'),
    'reason_machine_data_no_machines': ('透析机数据查询（{arg}）未返回任何透析机',
                                        'The machine-data query ({arg}) returned no dialysis machine'),
    'reason_machine_data_outside_shift': ('非治疗时段，未对无数据上传的透析机作判断',
                                          'Outside treatment hours: silent machines were not judged'),
    'reason_collector_not_found': ('数据采集服务 {arg} 未安装', 'Collector service {arg} is not installed'),
    'reason_endpoint_endpoint_refused': ('接口 {arg}（{target}）拒绝连接：端口无服务监听',
                                         'Endpoint {arg} ({target}) refused the connection: nothing listens '
                                         'on the port'),
    'reason_endpoint_endpoint_closed': ('接口 {arg}（{target}）接受连接后立即断开：'
                                        '代理或端口转发之后的服务未运行',
                                        'Endpoint {arg} ({target}) closed the connection at once: nothing '
                                        'runs behind the proxy or port forwarder'),
    'reason_endpoint_endpoint_timeout': ('接口 {arg}（{target}）连接超时',
                                         'Endpoint {arg} ({target}): the connection timed out'),
    'reason_endpoint_endpoint_unresolved': ('接口 {arg} 的地址 {target} 无法解析',
                                            'Endpoint {arg}: the address {target} does not resolve'),
    'reason_endpoint_endpoint_unreachable': ('接口 {arg}（{target}）网络不可达',
                                             'Endpoint {arg} ({target}) cannot be reached'),
    'reason_credential_missing': ('检查项 {item} 未配置只读账号的密码，未能查询',
                                  'Item {item}: no password for the read-only account; not queried'),
    'reason_client_missing': ('检查项 {item} 无法检查：主机上没有数据库客户端',
                              'Item {item} cannot be checked: no database client on the host'),
    'reason_query_failed': ('检查项 {item} 查询失败（无法连接数据库或查询出错）',
                            'Item {item}: the query failed (database unreachable or query error)'),
    'reason_bad_result': ('检查项 {item} 的查询结果格式不符',
                          'Item {item}: the query returned an unexpected result'),
    'reason_not_found': ('检查项 {item} 的对象未找到', 'Item {item}: not found'),
    'reason_unreadable': ('检查项 {item} 无法读取', 'Item {item} could not be read'),
    'reason_status_unknown': ('检查项 {item} 状态未知', 'Item {item}: state unknown'),
    'reason_save_failed': ('检查项 {item} 保存失败', 'Item {item}: could not be saved'),
    'reason_unreachable': ('主机无法连接', 'The host could not be reached'),
    'reason_task_failed': ('巡检任务执行失败', 'The inspection task failed'),
    'reason_systemctl_failed': ('检查项 {item} 查询失败', 'Item {item}: the query failed'),
    'reason_no_systemd': ('检查项 {item} 无法检查', 'Item {item} cannot be checked'),
    'reason_clock_unreadable': ('无法读取系统时钟同步状态',
                                'The clock synchronisation state could not be read'),
    'reason_optional_skipped': ('检查项 {item} 不适用，未检查', 'Item {item} does not apply; not checked'),
    'reason_partial_scan': ('检查项 {item} 仅部分检查', 'Item {item} was only partly checked'),
    # what a partial scan could not read (an item's ``partial`` entries, by kind)
    'partial_read_limit': ('本次仅扫描最后 {read}，跳过 {skipped}',
                           'only the last {read} were read; {skipped} skipped'),
    'partial_unreadable': ('{path} 无法读取，未扫描', '{path} could not be read and was not scanned'),
    'partial_rotated_compressed': (
        '轮转的旧日志在读完之前已被压缩为 {rotated}（本机无法解压该格式），上次巡检之后写入其中的内容未扫描',
        'the rotated log was compressed to {rotated} before it was read to the end (a format this '
        'host cannot decompress); what was written to it after the previous inspection was not scanned'),
    'partial_rotated_corrupt': (
        '轮转后压缩的旧日志 {rotated} 无法解压（文件损坏），上次巡检之后写入其中的内容未能全部扫描',
        'the rotated, compressed log {rotated} could not be decompressed (damaged); what was written '
        'to it after the previous inspection was not all scanned'),
    'partial_rotated_not_found': (
        '日志已轮转、截断或被替换，未找到旧文件，上次巡检之后写入旧文件的内容（如有）未扫描',
        'the log was rotated, truncated or replaced and its old file was not found; what was written '
        'to it after the previous inspection (if anything) was not scanned'),
    'partial_journal_cursor_lost': (
        '上次巡检的读取位置已不在系统日志中（日志已被清理或轮转），'
        '本次从 {since} 起读取，其间的条目可能不完整',
        'the position of the previous inspection is no longer in the journal (vacuumed or rotated); '
        'read from {since}, entries in between may be missing'),
    'partial_stopped_counting': ('系统日志条目过多，本次只统计了 {max_entries} 条，其余留待下次巡检统计',
                                 'too many entries: counting stopped at {max_entries}; the rest are '
                                 'counted at the next inspection'),
    'partial_journal_incomplete': ('系统日志读取中途失败，仅统计了已读取的条目',
                                   'reading the journal failed part-way; only the entries read were counted'),
    'partial_other': ('部分内容未扫描（{kind}）', 'part was not scanned ({kind})'),
    'sentence_join': ('；', '; '),
    # measured values that are words
    'value_active': ('运行中', 'running'),
    'value_inactive': ('未运行', 'not running'),
    'value_failed': ('失败', 'failed'),
    'value_not-found': ('未安装', 'not installed'),
    'value_unknown': ('未知', 'unknown'),
    'value_activating': ('启动中', 'starting'),
    'value_deactivating': ('停止中', 'stopping'),
    'value_reloading': ('重新加载中', 'reloading'),
    'value_synchronised': ('已同步', 'synchronised'),
    'value_unsynchronised': ('未同步', 'not synchronised'),
    'value_unreachable': ('不可达', 'unreachable'),
    'value_reachable': ('可连接', 'reachable'),
    'value_true': ('是', 'yes'),
    'value_false': ('否', 'no'),
    'level_warning': ('警告', 'warning'),
    'level_critical': ('严重', 'critical'),
    'unit_%': ('%', '%'),
    'unit_s': ('秒', 's'),
    'unit_days': ('天', 'days'),
    'unit_lines': ('行', 'lines'),
    'unit_entries': ('条', 'entries'),
    'unit_per core': ('每核', 'per core'),
    'unit_min': ('分钟', 'min'),
    'unit_messages': ('条', 'messages'),
    'unit_machines': ('台', 'machines'),
    'unit_ms': ('毫秒', 'ms'),
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
        prefix, arg = item.partition(':')[::2]
        return prefix, arg

    def item_label(self, item):
        key, arg = self.split_item(item)
        if key == 'machine_data' and ('system_' + arg) in CATALOGUE:
            arg = self.system(arg)  # a check named after its system reads as the system's name
        if ('item_' + key) in CATALOGUE:
            return self('item_' + key, arg=arg)
        return item

    def result(self, status):
        key = 'result_' + str(status)
        return self(key) if key in CATALOGUE else self('result_error')

    def system(self, system):
        key = 'system_' + str(system)
        return self(key) if key in CATALOGUE else str(system)

    def unit(self, unit):
        if unit in (None, ''):
            return ''
        key = 'unit_' + unit
        return self(key) if key in CATALOGUE else unit

    def value_text(self, value):
        """A measured value as the documents print it: numbers as figures,
        words (``active``, ``unsynchronised``) through the catalogue, lists
        joined; text the catalogue does not know (a path, process names) as is."""
        if value is None:
            return ''
        if isinstance(value, bool):
            return self('value_%s' % str(value).lower())
        if isinstance(value, (int, float)):
            return format_number(value)
        if isinstance(value, (list, tuple)):
            return self.listing(self.value_text(v) for v in value)
        key = 'value_' + str(value)
        return self(key) if key in CATALOGUE else str(value)

    def listing(self, texts):
        """Texts as a list in a sentence: 甲、乙 / a, b."""
        return ('、' if self.language == 'zh' else ', ').join(texts)

    def describe(self, item, tz=None):
        """The sentence the hospital reads for an item that is not ok (or was
        not checked), from the catalogue only: the item key, its figures, its
        value and its ``reason`` code. The module's English ``message`` is never
        used here (it is technical detail). An item whose check was partial
        (reason ``partial_scan``) also says what was not read, in figures
        (``tz``: the time zone of the times it names)."""
        ident = str(item.get('item', ''))
        key, arg = self.split_item(ident)
        status = item.get('status')
        value = item.get('value')
        reason = item.get('reason') or implied_reason(key, status, value)
        fields = {'arg': arg, 'item': self.item_label(ident), 'result': self.result(status),
                  'path': item.get('path') or _path_in(item) or arg,
                  'target': item.get('target') or '', 'value': self.value_text(value)}
        if reason:
            for candidate in ('reason_%s_%s' % (key, reason), 'reason_%s' % reason):
                if candidate in CATALOGUE:
                    text = self(candidate, **fields)
                    if reason == 'partial_scan':
                        text = self('sentence_join').join([text] + self.partial_sentences(item, tz))
                    return text
        if status == 'skipped':
            return self('reason_optional_skipped', **fields)
        desc_key = 'desc_' + key
        if status in ('warning', 'critical') and desc_key in CATALOGUE:
            threshold = item.get('threshold') or {}
            level = 'critical' if status == 'critical' else 'warning'
            limit = threshold.get(level) if isinstance(threshold, dict) else threshold
            if value is not None or key not in ('log',):
                return self(desc_key, level=self('level_' + level), limit=format_number(limit),
                            **fields)
        if status == 'error' and desc_key in CATALOGUE and key in ('host:reachability', 'task'):
            return self(desc_key, **fields)
        return self('desc_generic', **fields)

    def partial_sentences(self, item, tz=None):
        """One sentence per kind of thing a partial scan could not read (the
        item's ``partial`` entries), with its figures: bytes in binary units
        (``960 MiB``), times in ``tz``."""
        partial = item.get('partial')
        if not isinstance(partial, list):
            return []
        sentences, read, skipped, limited = [], 0, 0, False
        for entry in partial:
            if not isinstance(entry, dict):
                continue
            kind = str(entry.get('kind'))
            if kind == 'read_limit':
                if not limited:
                    sentences.append(None)  # the read-limit sentence, summed, goes here
                limited = True
                read += _int(entry.get('read_bytes'))
                skipped += _int(entry.get('skipped_bytes'))
                continue
            fields = dict((k, v) for k, v in entry.items() if k != 'kind')
            fields.setdefault('path', item.get('path') or '')
            fields.setdefault('rotated', '')
            fields['max_entries'] = entry.get('max_entries', '')
            if kind == 'journal_cursor_lost':
                fields['since'] = _time_text(entry.get('since'), tz) or entry.get('initial_since') or ''
            key = 'partial_' + kind
            if key not in CATALOGUE:
                key, fields = 'partial_other', {'kind': kind}
            sentence = self(key, **fields)
            if sentence not in sentences:
                sentences.append(sentence)
        if limited:
            sentences[sentences.index(None)] = self('partial_read_limit', read=human_bytes(read),
                                                    skipped=human_bytes(skipped))
        return sentences


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _time_text(seconds, tz=None):
    """Seconds since the epoch as the documents print a time (in ``tz``; UTC,
    said so, without one); '' when not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return ''
    when = datetime.datetime.fromtimestamp(seconds, tz or datetime.timezone.utc)
    return when.strftime('%Y-%m-%d %H:%M') + ('' if tz else ' UTC')


def implied_reason(key, status, value):
    """The reason code of items written before modules carried one."""
    if key == 'log' and value is None:
        return 'not_found' if status in ('ok', 'skipped', 'warning') else 'unreadable'
    if key == 'service' and value == 'not-found':
        return 'not_found'
    if key == 'service' and value is None and status == 'error':
        return 'status_unknown'
    if key == 'host:reachability':
        return 'unreachable'
    if key == 'task':
        return 'task_failed'
    if key == 'inspection:state':
        return 'save_failed'
    if key == 'clock:sync' and value is None:
        return 'clock_unreadable'
    if key in ('disk', 'inode') and value is None:
        return 'unreadable'
    return None


def _path_in(item):
    """The path a (log) item names: its ``path`` field, else the one in its message."""
    message = item.get('message') or ''
    for word in message.split():
        if word.startswith('/'):
            return word.rstrip('.,;:)')
    return ''


def format_number(value):
    """A figure as the documents print it: floats to one decimal, no trailing zero."""
    if isinstance(value, float):
        return ('%.1f' % value).rstrip('0').rstrip('.')
    return '' if value is None else str(value)
