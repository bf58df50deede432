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
# Item identifiers of the form <prefix>:<name>:<check> (backup_check: backup:<set>:age).
COMPOUND_ITEMS = ('backup', 'drill')
# Figures an item of these prefixes carries for its sentences (see _figures).
FIGURE_FIELDS = {'backup': ('limit', 'drop_percent', 'median_mib', 'history', 'oldest_days', 'database'),
                 'drill': ('limit', 'database'), 'dr:recovery': ('limit',)}

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
    'upgrade_no_risk_assessment': ('本次运行未附风险评估（风险评估闸门启用之前的运行）',
                                   'no risk assessment attached to this run (a run from before the risk '
                                   'gate)'),
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
    # why a post-switch health check failed (issue #12 fail-fast, upgrade_health_fail_after)
    'upgrade_check_answered_unhealthy': (
        '{host} 上 {version} 版本已应答但连续 {answers} 次检查异常，'
        '{waited} 秒即判定失败（未等满 {wait} 秒健康等待）',
        '{host} answered unhealthy {answers} times in a row on {version}: declared failed after {waited} s, '
        'not the whole {wait} s health wait'),
    'upgrade_check_never_answered': ('{host} 上 {version} 版本在 {wait} 秒健康等待内始终无应答',
                                     '{host} never answered on {version} within the {wait} s health wait'),
    'upgrade_check_unhealthy': ('{host} 上 {version} 版本有应答，但在 {wait} 秒健康等待内始终未通过检查',
                                '{host} answered on {version} but never passed its checks within '
                                'the {wait} s health wait'),
    'upgrade_method_down': ('降级迁移', 'down-migration'),
    'upgrade_method_restore': ('恢复备份', 'restore of the backup'),
    'upgrade_method_none': ('无需回退', 'nothing to undo'),
    'rollback_plan': ('按决定回退：先备份数据库，执行当前版本的降级迁移，逐台切换并做健康检查',
                      "Rollback by decision: a backup first, the running release's down-migrations, one host "
                      'at a time switched and checked'),
    'upgrade_scope': ('主机 {hosts}；停写时长 {downtime}', 'hosts {hosts}; writes refused for {downtime}'),
    'upgrade_recovered': ('上一次运行在 {state} 状态被中断，本次已先恢复',
                          'an earlier run was interrupted in state {state}; this run put it back first'),
    # 升级风险评估 and the upgrade's risk gate (issue #12, roles/upgrade/tasks/risk.yml,
    # plugins/plugin_utils/dialysis_upgrade_risk.py and dialysis_doc_risk.py, helper risk)
    'upgrade_risk_title': ('升级风险评估', 'Upgrade risk assessment'),
    'risk_sec_summary': ('本期升级风险评估', 'Risk assessments of the period'),
    'risk_sec_details': ('评估明细', 'Assessment details'),
    'risk_none': ('本期无升级风险评估。', 'No upgrade risk assessment in this period.'),
    'risk_detail_title': ('{time} {system} {versions}（风险评估）',
                          '{time} {system} {versions} (risk assessment)'),
    'risk_col_verdict': ('评估结论', 'Verdict'),
    'risk_col_gate': ('处理', 'What was done'),
    'risk_field_assessed': ('评估时间', 'Assessed at'),
    'risk_field_planned': ('计划升级时间', 'Planned start'),
    'risk_field_backup': ('最新备份', 'Newest backup'),
    'risk_field_drill': ('恢复演练验证', 'Proven by a restore drill'),
    'risk_field_disk': ('磁盘空间', 'Free disk'),
    'risk_field_guard': ('治疗时段守护（计划时间）', 'Treatment-hours guard (planned time)'),
    'risk_field_health': ('当前运行状况', 'Current health'),
    'risk_field_reversibility': ('迁移可逆性', "Migration's reversibility"),
    'risk_field_verdict': ('评估结论', 'Verdict'),
    'risk_field_reasons': ('理由', 'Reasons'),
    'risk_field_gate': ('处理情况', 'What was done with it'),
    'risk_field_assessor': ('评估人', 'Assessed by'),
    'risk_verdict_go': ('可以升级', 'Go'),
    'risk_verdict_go_with_conditions': ('有条件升级', 'Go with conditions'),
    'risk_verdict_no_go': ('不可升级', 'No go'),
    'risk_blockers': ('阻断项：{list}', 'blockers: {list}'),
    'risk_conditions': ('附加条件：{list}', 'conditions: {list}'),
    'risk_no_reasons': ('无阻断项，无附加条件', 'no blocker, no condition'),
    'risk_gate_assessed': ('仅评估，未升级', 'assessed only; no upgrade run'),
    'risk_gate_passed': ('升级按评估放行', 'the upgrade went ahead on this verdict'),
    'risk_gate_refused': ('升级被拒绝，未做任何变更', 'the upgrade was refused; nothing was changed'),
    'risk_gate_overridden': ('评估结论为不可升级，由 {operator} 越权放行，原因：{reason}',
                             '"no go" overridden by {operator}, reason: {reason}'),
    'risk_code_no_release': ('找不到目标版本', 'target release not found'),
    'risk_code_mixed_releases': ('各应用服务器版本不一致', 'app hosts on different releases'),
    'risk_code_older_target': ('目标版本低于当前版本', 'target older than the running release'),
    'risk_code_no_backup_set': ('未配置数据库备份', 'no backup set for the database'),
    'risk_code_no_backup': ('没有备份', 'no backup'),
    'risk_code_too_old': ('最新备份超过恢复点目标（RPO）', 'newest backup older than the RPO'),
    'risk_code_drill_failed': ('最近一次恢复演练未成功', 'the last restore drill failed'),
    'risk_code_never_drilled': ('备份从未经恢复演练验证', 'the backups were never restore-tested'),
    'risk_code_drill_too_old': ('恢复演练已过期', 'the last successful restore drill is too old'),
    'risk_code_newest_not_drilled': ('最新备份本身未经恢复演练',
                                     'the newest backup itself was not restore-tested'),
    'risk_code_no_space_release': ('应用服务器磁盘空间不足', 'not enough disk for the release'),
    'risk_code_no_space_backup': ('数据库服务器备份空间不足', 'not enough disk for the pre-migration backup'),
    'risk_code_not_read': ('未读取到磁盘空间', 'free disk not read'),
    'risk_code_guard_in_shift': ('计划时间处于治疗时段', 'planned time inside treatment hours'),
    'risk_code_guard_check_missing': ('未配置在治人数检查', 'no treatments-running check configured'),
    'risk_code_guard_treatments_running': ('有治疗正在进行', 'treatments running'),
    'risk_code_guard_check_unavailable': ('在治人数检查无应答',
                                          'the treatments-running check did not answer'),
    'risk_code_guard_refused': ('治疗时段守护拒绝', 'the treatment-hours guard refuses'),
    'risk_code_guard_overridden': ('治疗时段守护被越权放行', 'the treatment-hours guard was overridden'),
    'risk_code_guard_no_ticket': ('尚未提供变更单号', 'no change ticket yet'),
    'risk_code_interrupted_run': ('上次运行中断，升级将先恢复', 'an interrupted run is put back first'),
    'risk_code_unhealthy': ('当前运行异常', 'not healthy now'),
    'risk_code_collector_silent': ('数据采集当前未在写入', 'the collector is not writing now'),
    'risk_code_down_missing': ('缺少降级迁移', 'down-migration missing'),
    'risk_code_restore_needed': ('回退需恢复备份', 'going back needs a database restore'),
    'risk_code_no_test_environment': ('无测试环境', 'no test environment'),
    'risk_code_not_tested': ('未在测试环境升级', 'not upgraded on the test environment'),
    'risk_code_test_failed': ('测试环境升级未成功', 'the upgrade failed on the test environment'),
    'risk_backup_no_set': ('数据库服务器未配置该数据库的备份集，无法证明数据可以恢复',
                           'No backup set of the database is configured: nothing proves the data can be '
                           'restored'),
    'risk_backup_none': ('备份集 {set} 中没有备份', 'No backup in the backup set {set}'),
    'risk_backup_ok': ('{name}（备份集 {set}，{taken}），距今 {age}，在恢复点目标（RPO）{rpo} 小时以内',
                       '{name} (set {set}, {taken}), {age} old, within the RPO of {rpo} h'),
    'risk_backup_too_old': ('{name}（备份集 {set}，{taken}），距今 {age}，'
                            '超过恢复点目标（RPO）{rpo} 小时，须先备份',
                            '{name} (set {set}, {taken}), {age} old, beyond the RPO of {rpo} h: take a '
                            'backup first'),
    'risk_age_minutes': ('{value} 分钟', '{value} min'),
    'risk_age_hours': ('{value} 小时', '{value} h'),
    'risk_drill_no_set': ('无备份集，无法做恢复演练', 'no backup set, so no restore drill'),
    'risk_drill_ok': ('最新备份 {backup} 已于 {time} 恢复演练成功（恢复用时 {rto} 秒）',
                      'The newest backup {backup} was restored by the drill of {time} (restore took {rto} '
                      's)'),
    'risk_drill_older_backup': ('最新备份本身未做恢复演练；同一备份集的 {backup} 已于 {time} 演练成功'
                                '（{days} 天前，恢复用时 {rto} 秒）',
                                'The newest backup itself was not restore-tested; {backup} of the same set '
                                'was, '
                                'on {time} ({days} days ago, restore took {rto} s)'),
    'risk_drill_too_old': ('备份集 {set} 最近一次成功的恢复演练在 {time}（{days} 天前），超过 {limit} 天',
                           'The last successful restore drill of {set} was on {time} ({days} days ago), more '
                           'than {limit} days'),
    'risk_drill_never': ('备份集 {set} 的备份从未经恢复演练验证，须先做恢复演练',
                         'No backup of {set} was ever restore-tested: run a restore drill first'),
    'risk_drill_failed': ('备份集 {set} 最近一次恢复演练（{time}）未成功，恢复能力未得到证明',
                          'The last restore drill of {set} ({time}) did not succeed: the restore is not '
                          'proven'),
    'risk_disk_ok': ('{host}：可用 {free}，需要 {need}', '{host}: {free} free, {need} needed'),
    'risk_disk_short': ('{host}：可用 {free}，不足 {need}',
                        '{host}: {free} free, short of the {need} needed'),
    'risk_disk_free': ('{host}：可用 {free}（版本已安装）',
                       '{host}: {free} free (release installed already)'),
    'risk_disk_not_read': ('{host}：未读取到可用空间', '{host}: free space not read'),
    'risk_guard_ok': ('计划时间 {planned}（{tz}）不在治疗时段内；升级开始时守护将再检查在治人数',
                      'The planned time {planned} ({tz}) is outside treatment hours; the guard counts the '
                      'treatments running when the upgrade starts'),
    'risk_guard_allowed_now': ('本次运行的治疗时段守护已放行：不在治疗时段，无在治患者',
                               "This run's treatment-hours guard allowed it: outside treatment hours, no "
                               'treatment running'),
    'risk_guard_in_shift': ('计划时间 {planned}（{tz}）处于治疗时段内，治疗时段守护将拒绝升级',
                            'The planned time {planned} ({tz}) is inside treatment hours: the guard will '
                            'refuse'),
    'risk_guard_check_missing': ('未配置在治人数检查，治疗时段守护将拒绝升级',
                                 'No treatments-running check is configured: the guard will refuse'),
    'risk_guard_refused': ('治疗时段守护拒绝本次运行', "This run's treatment-hours guard refused it"),
    'risk_guard_overridden': ('本次运行的治疗时段守护已被越权放行（见守护记录）',
                              "This run's treatment-hours guard was overridden (see the guard's record)"),
    'risk_guard_no_ticket': ('计划时间 {planned}（{tz}）不在治疗时段内，'
                             '但尚未提供变更单号（守护拒绝无变更单号的运行）',
                             'The planned time {planned} ({tz}) is outside treatment hours, but no change '
                             'ticket '
                             'is named yet (the guard refuses a run without one)'),
    'risk_health_ok': ('{host}：正常', '{host}: healthy'),
    'risk_health_bad': ('{host}：异常，须先处理', '{host}: not healthy; fix it first'),
    'risk_health_interrupted': ('{host}：上次运行中断，升级将先恢复再检查',
                                '{host}: an interrupted run; the upgrade puts it back and checks again '
                                'first'),
    'risk_rev_none': ('无数据库迁移，回退只需切换程序', 'No migration: going back switches the code only'),
    'risk_rev_down': ('待执行的迁移 {pending} 均有降级迁移，可自动撤销',
                      'Every pending migration ({pending}) has a '
                      'down-migration: undone automatically'),
    'risk_rev_down_missing': ('设置为只用降级迁移，但迁移 {missing} 没有降级迁移，自动回退将失败',
                              'Set to down-migrations only, but {missing} has none: the automatic rollback '
                              'would '
                              'fail'),
    'risk_rev_restore': ('回退需恢复迁移前备份（{why}），升级期间数据采集写入的数据将丢失',
                         'Going back needs a restore of the pre-migration backup ({why}); what the collector '
                         'writes during the upgrade is lost'),
    'risk_rev_why_setting': ('按设置使用备份恢复', 'set to restore'),
    'risk_rev_why_missing': ('迁移 {missing} 没有降级迁移', 'no down-migration for {missing}'),
    'risk_rev_estimate': ('最近一次恢复演练用时 {rto} 秒', 'the last restore drill took {rto} s'),
    'risk_test_is_test': ('本次即为测试环境', 'This is the test environment'),
    'risk_test_not_tested': ('尚未在测试环境（{hosts}）升级到 {version}',
                             'Not yet upgraded to {version} on the '
                             'test environment ({hosts})'),
    'risk_test_result': ('{time} 在测试环境（{hosts}）升级：{outcome}', 'On the test environment ({hosts}), '
                         '{time}: {outcome}'),
    'risk_plan': ('在不可回退点（新版本恢复写入）之前，切换后 {wait} 秒内任一健康检查'
                  '（服务、/health、/version、'
                  '冒烟查询）未通过或迁移失败，即自动回退到 {to}，数据库回退方式：{method}；失败的版本保留'
                  '在磁盘上；'
                  '过了不可回退点，回退须经决定并记录',
                  'Before the point of no return (writes taken on the new release), a failed migration or '
                  'any '
                  'health check (unit, /health, /version, smoke queries) failing within {wait} s of a switch '
                  'rolls '
                  'back to {to} automatically, the database by {method}; the failed release stays on disk; '
                  'past '
                  'the point of no return, going back is a recorded decision'),
    # the health check's fail-fast (upgrade_health_fail_after) in the rollback plan
    'risk_plan_fail_after': ('；新版本已应答但连续 {n} 次检查异常即判定失败，不等满 {wait} 秒',
                             '; a new release that answers but fails {n} checks in a row is declared '
                             'failed at once, without waiting the {wait} s'),
    'risk_rollback_not_assessed': ('按决定回退，不做风险评估（回退前先备份数据库）',
                                   'a rollback by decision: no risk assessment (the database is backed up '
                                   'first)'),
    'risk_rollback_no_test': ('不适用（按决定回退）', 'not applicable (a rollback by decision)'),
    'risk_scope_users': ('用户：{system}全部用户在停写期间只能查询，不能录入',
                         'users: every user of the {system} could only read, not write, while writes were '
                         'refused'),
    'risk_scope_running': ('开始时在治患者 {running} 例（治疗时段守护实时统计）',
                           '{running} treatment(s) running at the start (the guard\'s live count)'),
    'event_upgrade_risk_refused': ('升级风险评估：拒绝升级', 'Risk assessment refused the upgrade'),
    'event_upgrade_risk_overridden': ('升级风险评估：越权放行升级', 'Risk assessment "no go" overridden'),
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
    # database care (issue 9: db_health, db_maintenance; dialysis_dbcare)
    'item_db_size': ('数据库大小 {arg}', 'Database size {arg}'),
    'item_db_connections': ('数据库连接数 {arg}', 'Database connections {arg}'),
    'item_db_cache_hit': ('数据库缓存命中率 {arg}', 'Database cache hit ratio {arg}'),
    'item_db_xid_age': ('事务号年龄 {arg}', 'Transaction-ID age {arg}'),
    'item_db_longest_transaction': ('最长事务 {arg}', 'Longest transaction {arg}'),
    'item_db_idle_in_transaction': ('事务中空闲的会话 {arg}', 'Sessions idle in transaction {arg}'),
    'item_db_replication': ('复制延迟 {arg}', 'Replication lag {arg}'),
    'item_db_statements': ('耗时最多的语句 {arg}', 'Top statements {arg}'),
    'item_db_bloat': ('表/索引膨胀 {arg}', 'Table/index bloat {arg}'),
    'item_db_dead_tuples': ('死元组 {arg}', 'Dead tuples {arg}'),
    'item_db_invalid_index': ('无效索引 {arg}', 'INVALID index {arg}'),
    'item_db_duplicate_index': ('重复索引 {arg}', 'Duplicate index {arg}'),
    'item_db_unused_index': ('未使用的索引 {arg}', 'Unused index {arg}'),
    'item_db_maintenance': ('数据库维护 {arg}', 'Database maintenance {arg}'),
    'item_db_drop_invalid': ('删除无效索引 {arg}', 'Drop INVALID index {arg}'),
    'item_db_vacuum': ('清理（VACUUM） {arg}', 'VACUUM {arg}'),
    'item_db_reindex': ('在线重建索引 {arg}', 'Online index rebuild {arg}'),
    'item_db_repack': ('在线重整表（pg_repack） {arg}', 'Online table rebuild (pg_repack) {arg}'),
    'item_db_vacuum_full': ('离线重整表（VACUUM FULL） {arg}', 'Offline table rebuild (VACUUM FULL) {arg}'),
    'item_db_rebuild': ('在线重建表 {arg}', 'Online table rebuild {arg}'),
    'item_db_analyze': ('更新统计信息 {arg}', 'Statistics update {arg}'),
    'item_db_optimize': ('离线整理表（OPTIMIZE） {arg}', 'Offline table rebuild (OPTIMIZE) {arg}'),
    'item_db_needs_window': ('需停机窗口的重整 {arg}', 'Rebuild needing a window {arg}'),
    'desc_db_connections': ('数据库连接数占上限的 {value}%，超过{level}阈值 {limit}%',
                            'Connections at {value}% of the maximum, above the {level} level {limit}%'),
    'desc_db_xid_age': ('事务号年龄 {value}，超过{level}阈值 {limit}',
                        'Transaction-ID age {value}, above the {level} level {limit}'),
    'desc_db_longest_transaction': ('最长事务已持续 {value} 秒，超过{level}阈值 {limit} 秒',
                                    'A transaction open for {value} s, above the {level} level {limit} s'),
    'desc_db_replication': ('复制延迟 {value} 秒，超过{level}阈值 {limit} 秒',
                            'Replication lag {value} s, above the {level} level {limit} s'),
    'desc_db_bloat': ('{arg} 膨胀 {value}%，超过{level}阈值 {limit}%',
                      '{arg}: bloat {value}%, above the {level} level {limit}%'),
    'desc_db_dead_tuples': ('{arg} 死元组占 {value}%，超过{level}阈值 {limit}%',
                            '{arg}: {value}% dead tuples, above the {level} level {limit}%'),
    'reason_invalid_index': ('索引 {arg} 无效（并发建索引失败的遗留），不被查询使用但增加写入开销',
                             'Index {arg} is INVALID (left by a failed concurrent build): unused by queries, '
                             'it still costs every write'),
    'reason_duplicate_index': ('索引 {arg} 与 {value} 重复', 'Index {arg} duplicates {value}'),
    'reason_unused_index': ('索引 {arg} 自统计重置以来未被使用', 'Index {arg} has not been used since the '
                            'statistics were reset'),
    'reason_not_installed': ('检查项 {item}：所需的数据库扩展未安装',
                             'Item {item}: the database extension it needs is not installed'),
    'reason_no_data': ('检查项 {item} 暂无数据', 'Item {item}: no data yet'),
    'reason_lock_timeout': ('{item}：等待锁超时，已让行于业务并推迟到下次维护',
                            '{item}: gave way after the lock timeout (a session held a lock); postponed'),
    'reason_statement_timeout': ('{item}：执行超时，已取消并推迟', '{item}: cancelled at the statement '
                                 'timeout; postponed'),
    'reason_budget': ('{item}：本次维护时间预算已用完，推迟到下次维护',
                      '{item}: the time budget was used up; postponed'),
    'reason_no_space': ('{item}：磁盘剩余空间不足对象大小的两倍，推迟',
                        '{item}: less than twice the object free on disk; postponed'),
    'reason_space_unknown': ('{item}：无法确认磁盘剩余空间，推迟',
                             '{item}: the free space could not be read; postponed'),
    'reason_needs_window': ('{item}：无法在线完成，需安排停机窗口',
                            '{item}: cannot be done online; needs a maintenance window'),
    'reason_window_not_cleared': ('{item}：离线操作未获治疗时段守卫放行，已拒绝',
                                  '{item}: offline work without the treatment-hours guard\'s clearance; '
                                  'refused'),
    'reason_statement_failed': ('{item}：执行失败', '{item}: the statement failed'),
    'outcome_db_partial': ('部分完成：其余对象已推迟或需停机窗口',
                           'Partly done: the rest postponed or needing a window'),
    'outcome_db_nothing': ('无需维护', 'Nothing to do'),
    'value_done': ('已完成', 'done'),
    'value_planned': ('计划中', 'planned'),
    'value_postponed': ('已推迟', 'postponed'),
    'value_refused': ('已拒绝', 'refused'),
    'value_needs_window': ('需停机窗口', 'needs a window'),
    'value_invalid': ('无效', 'INVALID'),
    'unit_bytes': ('字节', 'bytes'),
    'unit_xids': ('个事务号', 'xids'),
    'unit_sessions': ('个会话', 'sessions'),
    'unit_statements': ('条语句', 'statements'),
    # the quarterly performance analysis (issue 9: dialysis_perf, PERFORMANCE_REPORT)
    'perf_title': ('季度性能分析报告', 'Quarterly performance analysis'),
    'perf_summary': (
        '本季度分析了 {hosts} 台主机、{databases} 个数据库：发现 {findings} 项需要处理的问题，{restarts}'
        ' 个服务建议重启。',
        'This quarter: {hosts} hosts and {databases} databases analysed; {findings} findings to act on;'
        ' a restart recommended for {restarts} services.'),
    'perf_sec_forecast': ('磁盘容量预测', 'Disk capacity forecast'),
    'perf_sec_databases': ('数据库增长与运行指标', 'Database growth and figures'),
    'perf_sec_statements': ('耗时最多的语句', 'Top statements'),
    'perf_sec_findings': ('发现与建议', 'Findings and recommendations'),
    'perf_sec_restart': ('服务重启决策', 'Restart decisions'),
    'perf_col_mount': ('挂载点', 'Mount point'),
    'perf_col_disk_now': ('当前使用率 %', 'Used now %'),
    'perf_col_growth': ('日增长 (GiB)', 'Growth per day (GiB)'),
    'perf_col_days_full': ('预计写满（天）', 'Full in (days)'),
    'perf_col_database': ('数据库', 'Database'),
    'perf_col_size_start': ('期初 (MiB)', 'Start (MiB)'),
    'perf_col_size_end': ('期末 (MiB)', 'End (MiB)'),
    'perf_col_growth_percent': ('增长 %', 'Growth %'),
    'perf_col_cache_hit': ('最低缓存命中率 %', 'Lowest cache hit %'),
    'perf_col_connections': ('最高连接占用 %', 'Highest connections %'),
    'perf_col_rank': ('排名', 'Rank'),
    'perf_col_statement': ('语句（已去除字面值）', 'Statement (no literal values)'),
    'perf_col_calls': ('调用次数', 'Calls'),
    'perf_col_total_ms': ('总耗时 (ms)', 'Total (ms)'),
    'perf_col_mean_ms': ('平均耗时 (ms)', 'Mean (ms)'),
    'perf_col_change': ('平均耗时较上季度', 'Mean vs last quarter'),
    'perf_col_object': ('对象', 'Object'),
    'perf_col_finding': ('发现', 'Finding'),
    'perf_col_advice': ('建议', 'Recommendation'),
    'perf_col_service': ('服务', 'Service'),
    'perf_col_decision': ('决策', 'Decision'),
    'perf_not_filling': ('未增长', 'not growing'),
    'perf_new_statement': ('本季度新出现', 'new this quarter'),
    'perf_no_data': ('本季度无数据。', 'No data this quarter.'),
    'perf_no_findings': ('本季度未发现需要处理的问题。', 'Nothing to act on this quarter.'),
    'perf_finding_disk_full': (
        '按本季度增长速度，{mount} 预计 {days} 天内写满',
        "At this quarter's growth {mount} is full in {days} days"),
    'perf_advice_disk_full': (
        '清理或扩容 {mount}，并核查增长来源（日志、备份、归档数据）',
        'Clean up or extend {mount}; find what grows (logs, backups, archived data)'),
    'perf_finding_cache_hit_low': (
        '数据库 {database} 缓存命中率最低 {hit}%，低于 {level}%',
        'Database {database}: cache hit down to {hit}%, under {level}%'),
    'perf_advice_cache_hit_low': (
        '增大数据库缓存（shared_buffers / innodb_buffer_pool_size），并检查全表扫描的语句',
        'Give the database more cache (shared_buffers / innodb_buffer_pool_size) and look at statements'
        ' that scan whole tables'),
    'perf_finding_connections_high': (
        '数据库 {database} 连接占用最高达上限的 {share}%',
        'Database {database}: connections reached {share}% of the maximum'),
    'perf_advice_connections_high': (
        '检查应用连接池配置，必要时提高 max_connections',
        "Check the applications' connection pools; raise max_connections if needed"),
    'perf_finding_shared_buffers': (
        '数据库 {database} 的 shared_buffers 为 {now_mib} MiB，主机内存 {ram_gib} GiB',
        'Database {database}: shared_buffers is {now_mib} MiB on a host with {ram_gib} GiB'),
    'perf_advice_shared_buffers': (
        '将 shared_buffers 调整为约内存的 25%（约 {suggest_mib} MiB），需重启数据库',
        'Set shared_buffers to about 25% of the memory (about {suggest_mib} MiB); takes a database restart'),
    'perf_finding_work_mem': (
        '数据库 {database} 的 work_mem（{now_mib} MiB）× 最大连接数（{connections}）超过主机内存 {ram_gib}'
        ' GiB',
        "Database {database}: work_mem ({now_mib} MiB) x max_connections ({connections}) exceeds the host's"
        ' {ram_gib} GiB'),
    'perf_advice_work_mem': (
        '降低 work_mem 或 max_connections，避免并发排序耗尽内存',
        'Lower work_mem or max_connections so concurrent sorts cannot exhaust the memory'),
    'perf_finding_innodb_buffer_pool_size': (
        '数据库 {database} 的 innodb_buffer_pool_size 为 {now_mib} MiB，主机内存 {ram_gib} GiB',
        'Database {database}: innodb_buffer_pool_size is {now_mib} MiB on a host with {ram_gib} GiB'),
    'perf_advice_innodb_buffer_pool_size': (
        '专用数据库主机上将 innodb_buffer_pool_size 调整为约内存的 50%（约 {suggest_mib} MiB）',
        'On a dedicated database host set innodb_buffer_pool_size to about half the memory '
        '(about {suggest_mib}'
        ' MiB)'),
    'perf_finding_missing_index': (
        '表 {table} 以全表扫描为主（{seq_scans} 次，读取 {rows_read} 行）：{statement}',
        'Table {table} is read mostly by whole-table scans ({seq_scans}, {rows_read} rows read): '
        '{statement}'),
    'perf_advice_missing_index': (
        '为该语句的过滤条件列建立索引（在线：CREATE INDEX CONCURRENTLY），先在测试库验证执行计划',
        'Index the columns this statement filters on (online: CREATE INDEX CONCURRENTLY); check the plan'
        ' on a test copy first'),
    'perf_restart_needed': ('需要重启', 'Restart'),
    'perf_restart_not_needed': ('无需重启', 'No restart'),
    'perf_reason_memory_growth': (
        '本季度 {points} 次巡检中服务 {process} 内存持续增长：{first_mib} MiB → {last_mib} MiB，疑似内'
        '存泄漏，建议在非治疗时段重启',
        'Service {process} grew over {points} inspections: {first_mib} MiB -> {last_mib} MiB (a leak is'
        ' likely); restart outside treatment hours'),
    'perf_reason_memory_steady': (
        '本季度 {points} 次巡检中服务 {process} 内存平稳（{first_mib} MiB → {last_mib} MiB），主机已运'
        '行 {uptime_days} 天',
        'Service {process} steady over {points} inspections ({first_mib} MiB -> {last_mib} MiB); host up'
        ' {uptime_days} days'),
    'perf_reason_uptime': (
        '主机已连续运行 {uptime_days} 天，建议结合下次补丁窗口计划重启',
        'Host up {uptime_days} days: plan a restart with the next patch window'),
    # restart decisions from patch records, and the engineer's changes (<quarter>-restart.yml)
    'perf_reason_pending_reboot': (
        '{patched} 的补丁更新了内核或核心库，主机尚未重启，需在非治疗时段重启',
        'The patch of {patched} updated the kernel or core libraries and the host has not been'
        ' rebooted: restart outside treatment hours'),
    'perf_reason_pending_kernel': (
        '{listed} 检查到 {packages} 个待安装更新（含内核），安装后需重启主机，建议结合补丁窗口进行',
        '{listed}: {packages} pending updates including a kernel; applying them needs a reboot: plan it'
        ' with the patch window'),
    'perf_reason_pending_updates': (
        '{listed} 检查到 {packages} 个待安装更新，安装后需重启使用它们的服务，建议结合补丁窗口进行',
        '{listed}: {packages} pending updates; applying them restarts the services that use them: plan'
        ' it with the patch window'),
    'perf_col_decided_by': ('决定人', 'Decided by'),
    'perf_decided_by_analysis': ('数据分析', 'the analysis'),
    'perf_engineer_changed': (
        '工程师决定：{reason}（数据分析结论：{analysis}；{analysis_reason}）',
        "Engineer's decision: {reason} (the analysis said: {analysis}; {analysis_reason})"),
    'perf_reason_no_memory_data': (
        '本季度巡检中没有服务 {process} 的内存数据，主机已运行 {uptime_days} 天',
        'No memory figures of service {process} this quarter; host up {uptime_days} days'),
    'partial_read_limit': (
        '本次仅扫描最后 {read}，跳过 {skipped}',
        'only the last {read} were read; {skipped} skipped'),
    'partial_unreadable': ('{path} 无法读取，未扫描', '{path} could not be read and was not scanned'),
    'partial_rotated_compressed': (
        '轮转的旧日志在读完之前已被压缩为 {rotated}（本机无法解压该格式），上次巡检之后写入其中的内容未'
        '扫描',
        'the rotated log was compressed to {rotated} before it was read to the end (a format this host cannot'
        ' decompress); what was written to it after the previous inspection was not scanned'),
    'partial_rotated_corrupt': (
        '轮转后压缩的旧日志 {rotated} 无法解压（文件损坏），上次巡检之后写入其中的内容未能全部扫描',
        'the rotated, compressed log {rotated} could not be decompressed (damaged); what was written to'
        ' it after the previous inspection was not all scanned'),
    'partial_rotated_not_found': (
        '日志已轮转、截断或被替换，未找到旧文件，上次巡检之后写入旧文件的内容（如有）未扫描',
        'the log was rotated, truncated or replaced and its old file was not found; what was written to'
        ' it after the previous inspection (if anything) was not scanned'),
    'partial_journal_cursor_lost': (
        '上次巡检的读取位置已不在系统日志中（日志已被清理或轮转），本次从 {since} 起读取，其间的条目可'
        '能不完整',
        'the position of the previous inspection is no longer in the journal (vacuumed or rotated); read'
        ' from {since}, entries in between may be missing'),
    'partial_stopped_counting': (
        '系统日志条目过多，本次只统计了 {max_entries} 条，其余留待下次巡检统计',
        'too many entries: counting stopped at {max_entries}; the rest are counted at the next inspection'),
    'partial_journal_incomplete': (
        '系统日志读取中途失败，仅统计了已读取的条目',
        'reading the journal failed part-way; only the entries read were counted'),
    'partial_other': ('部分内容未扫描（{kind}）', 'part was not scanned ({kind})'),
    'sentence_join': ('；', '; '),
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
    # backups (backup_check, issue #10): items backup:<set>:<check>, reason sentences, units
    'item_backup_age': ('备份时效 {arg}', 'Backup age {arg}'),
    'item_backup_size': ('备份大小 {arg}', 'Backup size {arg}'),
    'item_backup_checksum': ('备份校验和 {arg}', 'Backup checksum {arg}'),
    'item_backup_structure': ('备份文件完整性 {arg}', 'Backup integrity {arg}'),
    'item_backup_retention': ('备份保留 {arg}', 'Backup retention {arg}'),
    'item_backup_job': ('备份任务 {arg}', 'Backup job {arg}'),
    'desc_backup_age': ('备份集 {arg} 最新备份已 {value} 小时，超过恢复点目标（RPO）{limit} 小时',
                        'Backup set {arg}: the newest backup is {value} h old, beyond the RPO of {limit} h'),
    'reason_backup_age_too_old': ('备份集 {arg} 最新备份已 {value} 小时，超过恢复点目标（RPO）{limit} 小时',
                                  'Backup set {arg}: the newest backup is {value} h old, beyond the RPO of '
                                  '{limit} h'),
    'reason_backup_age_no_backup': ('备份集 {arg} 没有任何备份文件', 'Backup set {arg} holds no backup'),
    'reason_backup_age_no_directory': ('备份集 {arg} 的备份目录 {path} 不存在',
                                       'Backup set {arg}: the directory {path} does not exist'),
    'reason_backup_size_size_drop': ('备份集 {arg} 最新备份 {value} MiB，比此前 {history} 份备份的中位数 '
                                     '{median_mib} MiB 小 {drop_percent}%（超过 {limit}%），'
                                     '可能是不完整的备份',
                                     'Backup set {arg}: the newest backup is {value} MiB, {drop_percent}% '
                                     'smaller than the median of the previous {history} ({median_mib} MiB; '
                                     'more than {limit}%): possibly a half-empty backup'),
    'reason_backup_size_empty': ('备份集 {arg} 最新备份为空文件',
                                 'Backup set {arg}: the newest backup is empty'),
    'reason_backup_size_short_history': ('备份集 {arg} 历史备份不足，未比较大小',
                                         'Backup set {arg}: too few earlier backups to compare the size'),
    'reason_backup_checksum_checksum_mismatch': ('备份集 {arg} 最新备份的 sha256 校验和与清单不符',
                                                 'Backup set {arg}: the sha256 of the newest backup does not '
                                                 'match its manifest'),
    'reason_backup_checksum_no_manifest': ('备份集 {arg} 最新备份没有校验和清单（.sha256）',
                                           'Backup set {arg}: the newest backup has no checksum manifest '
                                           '(.sha256)'),
    'reason_backup_checksum_bad_manifest': ('备份集 {arg} 的校验和清单格式不正确',
                                            'Backup set {arg}: the checksum manifest is malformed'),
    'reason_backup_structure_truncated': ('备份集 {arg} 最新备份不完整（文件被截断，无法完整读取）',
                                          'Backup set {arg}: the newest backup is truncated (it cannot be '
                                          'read to its end)'),
    'reason_backup_structure_corrupt': ('备份集 {arg} 最新备份已损坏，无法读取',
                                        'Backup set {arg}: the newest backup is damaged and cannot be read'),
    'reason_backup_structure_tool_missing': ('备份集 {arg} 无法校验：主机上没有所需的数据库工具',
                                             'Backup set {arg} cannot be verified: the database tool is not '
                                             'installed on the host'),
    'reason_backup_structure_unverified': ('备份集 {arg}（SQL Server .bak）仅登记，未做结构校验',
                                           'Backup set {arg} (SQL Server .bak) is listed but not verified'),
    'reason_backup_structure_not_configured': ('备份集 {arg} 未配置结构校验',
                                               'Backup set {arg}: structural verification is switched off'),
    'reason_backup_retention_retention_short': ('备份集 {arg} 仅保留 {value} 份备份，少于要求',
                                                'Backup set {arg} keeps only {value} backups'),
    'reason_backup_retention_retention_exceeded': ('备份集 {arg} 保留了 {value} 份备份，超过保留策略，'
                                                   '最早的已 {oldest_days} 天',
                                                   'Backup set {arg} keeps {value} backups, more than its '
                                                   'retention; the oldest is {oldest_days} days old'),
    'reason_backup_job_job_failed': ('备份集 {arg} 的备份任务最近一次执行失败',
                                     'Backup set {arg}: the last run of the backup job failed'),
    'reason_backup_job_no_job_report': ('备份集 {arg} 的备份任务没有运行记录（last-run.json）',
                                        'Backup set {arg}: the backup job left no report (last-run.json)'),
    'reason_backup_job_bad_job_report': ('备份集 {arg} 的备份任务运行记录无法解析',
                                         'Backup set {arg}: the backup job\'s report cannot be read'),
    'sec_backups': ('备份检查', 'Backup checks'),
    'no_backup_checks': ('本期没有备份检查记录。', 'No backup check in this period.'),
    'col_checked_at': ('检查时间 ({tz})', 'Checked at ({tz})'),
    'col_backup_set': ('备份集', 'Backup set'),
    'col_backup_newest': ('最新备份', 'Newest backup'),
    'col_backup_age': ('时效（小时）', 'Age (h)'),
    'col_backup_size': ('大小（MiB）', 'Size (MiB)'),
    'col_backup_findings': ('检查发现', 'Findings'),
    'backup_all_ok': ('时效、大小、校验和、完整性、保留均正常',
                      'Age, size, checksum, integrity and retention normal'),
    'backup_unverified': ('未做结构校验（SQL Server 备份）', 'Structure not verified (SQL Server backup)'),
    'backup_check_title': ('备份检查记录', 'Backup check record'),
    'restore_drill_title': ('恢复演练记录', 'Restore drill record'),
    'col_backup_checksum': ('校验和', 'Checksum'),
    'col_backup_structure': ('完整性', 'Integrity'),
    'col_backup_retention': ('保留', 'Retention'),
    'col_backup_job': ('备份任务', 'Backup job'),
    'backup_summary': (
        '本期共检查备份 {checks} 次（{sets} 个备份集），发现异常 {anomalies} 项；恢复演练 {drills} '
        '次，成功 {drills_ok} 次，未成功 {drills_failed} 次。',
        'In this period: {checks} backup checks ({sets} backup sets), {anomalies} findings; {drills} '
        'restore drills, {drills_ok} succeeded, {drills_failed} did not.'),
    'sec_drills': ('恢复演练', 'Restore drills'),
    'no_drills': ('本期没有恢复演练记录。', 'No restore drill in this period.'),
    'sec_drill_note': ('说明', 'Notes'),
    'drill_note': (
        '恢复演练将备份恢复到临时数据库（绝不覆盖生产库），校验索引与表的完整性、各表行数与备份时一致、'
        '最新数据时间（实际恢复点 RPO），执行业务冒烟查询，并计量恢复时间（RTO：恢复加校验的实际用时），'
        '演练结束后删除临时数据库。被跳过、中断、超时或失败的演练均记为未成功。',
        'A restore drill restores a backup into a scratch database (never over a production database), '
        'checks the integrity of its indexes and tables, that every table holds the rows counted '
        "at backup time and the newest record (the RPO achieved), runs the application's smoke queries "
        'and measures the recovery time (RTO: restore and checks, wall time); the scratch database '
        'is then dropped. A drill that was skipped, interrupted, timed out or failed is never counted '
        'as a success.'),
    'col_drill_time': ('演练时间 ({tz})', 'Drill time ({tz})'),
    'col_drill_backup': ('恢复的备份', 'Backup restored'),
    'col_drill_rto': ('实测 RTO（秒）', 'RTO measured (s)'),
    'col_drill_rto_target': ('RTO 目标（秒）', 'RTO target (s)'),
    'col_drill_rpo': ('实际 RPO（小时）', 'RPO achieved (h)'),
    'col_drill_integrity': ('完整性校验', 'Integrity'),
    'col_drill_counts': ('行数核对', 'Row counts'),
    'col_drill_smoke': ('冒烟查询', 'Smoke queries'),
    'col_drill_outcome': ('演练结果', 'Outcome'),
    'drill_integrity_cell': ('{checked} 项，{failed} 项失败', '{checked} checked, {failed} failed'),
    'drill_counts_cell': ('{ok}/{total} 一致', '{ok}/{total} match'),
    'drill_outcome_ok': ('成功', 'Succeeded'),
    'drill_outcome_failed': ('失败', 'Failed'),
    'drill_outcome_not_done': ('未完成', 'Not done'),
    'drill_outcome_timed_out': ('超时未完成', 'Timed out'),
    'drill_outcome_refused': ('已拒绝（目标为生产库）', 'Refused (production target)'),
    # restore drill items drill:<set>:<check>
    'item_drill_target': ('演练目标库 {arg}', 'Drill target {arg}'),
    'item_drill_leftovers': ('遗留临时库 {arg}', 'Leftover scratch databases {arg}'),
    'item_drill_disk': ('恢复空间 {arg}', 'Disk for the restore {arg}'),
    'item_drill_restore': ('恢复 {arg}', 'Restore {arg}'),
    'item_drill_integrity': ('完整性校验 {arg}', 'Integrity {arg}'),
    'item_drill_counts': ('行数核对 {arg}', 'Row counts {arg}'),
    'item_drill_rpo': ('实际恢复点 {arg}', 'RPO achieved {arg}'),
    'item_drill_smoke': ('冒烟查询 {arg}', 'Smoke queries {arg}'),
    'item_drill_rto': ('恢复时间 {arg}', 'Recovery time {arg}'),
    'item_drill_cleanup': ('清理临时库 {arg}', 'Scratch cleanup {arg}'),
    'item_drill_outcome': ('演练过程 {arg}', 'Drill run {arg}'),
    'reason_drill_target_production_target': (
        '演练目标 {value} 是生产库，已拒绝',
        'The target {value} is a production database: refused'),
    'reason_drill_target_not_scratch': (
        '演练目标 {value} 不是临时库名称，已拒绝',
        'The target {value} is not a scratch database name: refused'),
    'reason_drill_target_bad_target': (
        '演练目标名称不合法，已拒绝',
        'The target name is not valid: refused'),
    'reason_drill_target_prefix_clash': (
        '生产库名称以临时库前缀开头，已拒绝',
        'A production database starts with the scratch prefix: refused'),
    'reason_drill_disk_no_space': (
        '备份集 {arg} 恢复所需磁盘空间不足，演练未进行',
        'Backup set {arg}: not enough free disk for the restore; not done'),
    'reason_drill_restore_no_backup': (
        '备份集 {arg} 没有可恢复的备份',
        'Backup set {arg}: no backup to restore'),
    'reason_drill_restore_unsupported_format': (
        '备份集 {arg} 为物理备份，本演练不支持',
        'Backup set {arg} is a physical backup, not drilled here'),
    'reason_drill_integrity_integrity_failed': (
        '备份集 {arg} 恢复后完整性校验失败 {value} 项',
        'Backup set {arg}: {value} objects failed the integrity check after the restore'),
    'reason_drill_counts_count_mismatch': (
        '备份集 {arg} 恢复后部分表行数与备份时不一致',
        'Backup set {arg}: restored row counts differ from those at backup time'),
    'reason_drill_counts_no_counts': (
        '备份集 {arg} 没有备份时的行数记录，无法核对',
        'Backup set {arg}: no row counts recorded at backup time'),
    'reason_drill_rpo_rpo_missed': (
        '备份集 {arg} 实际恢复点 {value} 小时，超过 RPO {limit} 小时',
        'Backup set {arg}: RPO achieved {value} h, beyond the target of {limit} h'),
    'reason_drill_smoke_smoke_failed': (
        '备份集 {arg} 恢复后的业务冒烟查询未全部通过',
        'Backup set {arg}: not every smoke query answered on the restored copy'),
    'reason_drill_rto_rto_missed': (
        '备份集 {arg} 恢复用时 {value} 秒，超过 RTO 目标 {limit} 秒',
        'Backup set {arg}: recovery took {value} s, beyond the RTO target of {limit} s'),
    'reason_drill_cleanup_cleanup_failed': (
        '备份集 {arg} 的临时库未能删除（下次演练时删除）',
        'Backup set {arg}: the scratch database could not be dropped (the next drill removes it)'),
    'reason_drill_outcome_timed_out': (
        '备份集 {arg} 的演练超出时间预算，已中止',
        'Backup set {arg}: the drill used its time budget and was stopped'),
    'reason_drill_outcome_interrupted': (
        '备份集 {arg} 的演练被中断，未完成',
        'Backup set {arg}: the drill was interrupted and did not finish'),
    'reason_drill_outcome_restore_failed': (
        '备份集 {arg} 恢复失败',
        'Backup set {arg}: the restore failed'),
    'reason_drill_outcome_query_failed': (
        '备份集 {arg} 演练中的数据库操作失败',
        'Backup set {arg}: a database step of the drill failed'),
    'reason_drill_outcome_tool_missing': (
        '备份集 {arg} 无法演练：主机上缺少数据库工具',
        'Backup set {arg} cannot be drilled: a database tool is missing'),
    'value_match': ('一致', 'matches'),
    'value_mismatch': ('不一致', 'does not match'),
    'value_missing': ('缺失', 'missing'),
    'value_valid': ('完整', 'valid'),
    'value_damaged': ('不完整或损坏', 'incomplete or damaged'),
    'value_not_verified': ('未校验', 'not verified'),
    'unit_h': ('小时', 'h'),
    'unit_MiB': ('MiB', 'MiB'),
    'unit_backups': ('份', 'backups'),
    # patching (issue #11, R12: roles/patch, pending_updates): items, reasons, values
    'item_package': ('软件包 {arg}', 'Package {arg}'),
    'item_patch:reboot': ('补丁后重启', 'Reboot after patching'),
    'item_patch:services': ('补丁后重启的服务', 'Services restarted after patching'),
    'item_patch:downtime': ('补丁影响时长', 'Patch downtime'),
    'item_patch:outcome': ('补丁结果', 'Patch outcome'),
    'item_health:before': ('变更前健康检查', 'Health check before the change'),
    'item_health:after': ('变更后健康检查', 'Health check after the change'),
    'desc_health:before': ('变更前健康检查未通过', 'The health check before the change failed'),
    'desc_health:after': ('变更后健康检查未通过', 'The health check after the change failed'),
    'reason_package_applied': ('软件包 {arg} 已更新（{value}）', 'Package {arg} updated ({value})'),
    'reason_package_pending': ('软件包 {arg} 有待安装的更新（{value}）',
                               'Package {arg} has an update pending ({value})'),
    'reason_package_not_applied': ('软件包 {arg} 的更新未安装（{value}）',
                                   'The update of package {arg} was not applied ({value})'),
    'reason_package_other_version': ('软件包 {arg} 的安装版本与预期不符（{value}）',
                                     'Package {arg} is not at the expected version ({value})'),
    'reason_rebooted': ('补丁后已重启', 'Rebooted after patching'),
    'reason_reboot_not_required': ('系统未提示需要重启', 'No reboot needed'),
    'reason_reboot_pending': ('系统提示需要重启，本次未重启',
                              'The system needs a reboot that this run did not do'),
    'reason_services_unknown': ('无法判断哪些服务使用了已更新的库'
                                '（主机未安装 needrestart 或 needs-restarting）',
                                'Which services use the updated libraries cannot be told (no needrestart or '
                                'needs-restarting on the host)'),
    'reason_no_health_check': ('未配置健康检查（{item}）', 'No health check configured ({item})'),
    'reason_patch_failed': ('补丁安装失败，已停止后续主机的补丁', 'Patching failed; the rollout was stopped'),
    'value_applied': ('已安装', 'applied'),
    'value_nothing_pending': ('无待安装更新', 'nothing pending'),
    'value_would_apply': ('待安装（检查模式）', 'would apply (check mode)'),
    'outcome_applied': ('已安装更新', 'Updates applied'),
    'outcome_nothing_pending': ('无待安装更新，未做变更', 'Nothing pending; nothing changed'),
    # disaster recovery (issue #10, R7: roles/dr_drill, 灾难恢复演练记录, 灾难恢复计划, the monthly
    # report's drills)
    'dr_drill_title': ('灾难恢复演练记录', 'Disaster-recovery drill record'),
    'dr_plan_title': ('灾难恢复计划（应急预案）', 'Disaster-recovery plan'),
    'dr_summary': ('本期灾难恢复演练 {drills} 次，成功 {ok} 次，未成功 {failed} 次。',
                   'In this period: {drills} disaster-recovery drills, {ok} succeeded, {failed} did not.'),
    'sec_dr_drills': ('灾难恢复演练', 'Disaster-recovery drills'),
    'sec_dr_steps': ('演练步骤', 'Drill steps'),
    'no_dr_drills': ('本期没有灾难恢复演练记录。', 'No disaster-recovery drill in this period.'),
    'dr_note': (
        '灾难恢复演练在备用主机上恢复源数据库主机最新的已校验备份（校验和与清单一致），在其上启动业务服务并运行健康检查；'
        '恢复用时自第一步开始至健康检查通过，与恢复时间目标（RTO）比较。'
        '任何一步失败或未执行、或超过 RTO 目标，'
        '演练均记为未成功。演练结束后停止备用主机上的服务并删除恢复的数据库（真实恢复时保留运行）。',
        'A disaster-recovery drill restores the newest verified backup of the source database host '
        '(its checksum '
        'matching its manifest) on a standby host, starts the service there and runs its health check; the '
        'recovery time runs from the first step to a passed health check and is compared with the RTO '
        'target. A '
        'drill with any step failed or not done, or beyond the RTO target, is never counted as a success. '
        'Afterwards the service on the standby is stopped and the restored database dropped (a real recovery '
        'leaves them running).'),
    'col_dr_standby': ('备用主机', 'Standby host'),
    'col_dr_source': ('源数据库主机', 'Source host'),
    'col_dr_recovery': ('实测恢复用时（秒）', 'Recovery time (s)'),
    'col_dr_step': ('步骤', 'Step'),
    'col_dr_started': ('开始时间', 'Started'),
    'col_dr_seconds': ('用时（秒）', 'Time (s)'),
    'col_dr_note': ('说明', 'Note'),
    'dr_step_ok': ('成功', 'Succeeded'),
    'dr_step_failed': ('失败', 'Failed'),
    'dr_step_not_done': ('未执行', 'Not done'),
    'dr_step_left_running': ('保留运行', 'Left running'),
    'dr_not_measured': ('未测得', 'not measured'),
    'item_dr:verify': ('校验最新备份', 'Verify the newest backup'),
    'item_dr:transfer': ('备份传送到备用主机', 'Transfer to the standby'),
    'item_dr:restore': ('恢复数据库', 'Restore the database'),
    'item_dr:start': ('启动业务服务', 'Start the service'),
    'item_dr:health': ('服务健康检查', 'Service health check'),
    'item_dr:recovery': ('恢复用时（RTO）', 'Recovery time (RTO)'),
    'item_dr:cleanup': ('演练后清理', 'Cleanup after the drill'),
    'reason_dr:verify_backup_unverified': ('没有可用的已校验备份（无备份，或校验和与清单不符）',
                                           'No verified backup (none found, or its checksum does not match '
                                           'its manifest)'),
    'reason_dr:transfer_transfer_failed': ('备份未能完整传送到备用主机',
                                           'The backup did not reach the standby intact'),
    'reason_dr:restore_restore_failed': ('备份在备用主机上恢复失败', 'The restore on the standby failed'),
    'reason_dr:restore_database_exists': ('备用主机上已有同名数据库，未做任何变更（可能是上次恢复保留运行）',
                                          'The standby already has a database of that name; nothing was '
                                          'changed (a recovery left running?)'),
    'reason_dr:start_start_failed': ('业务服务未能在备用主机上启动',
                                     'The service did not start on the standby'),
    'reason_dr:health_unhealthy': ('业务服务在备用主机上未通过健康检查',
                                   'The service failed its health check on the standby'),
    'reason_dr:recovery_rto_missed': ('恢复用时 {value} 秒，超过 RTO 目标 {limit} 秒',
                                      'Recovery took {value} s, beyond the RTO target of {limit} s'),
    'reason_dr:recovery_not_recovered': ('恢复未完成，未测得恢复用时', 'The recovery did not complete; no '
                                         'recovery time'),
    'reason_dr:cleanup_cleanup_failed': ('演练后未能停止服务或删除恢复的数据库',
                                         'The drill could not stop the service or drop the restored '
                                         'database'),
    'reason_step_failed': ('该步骤失败', 'The step failed'),
    'reason_left_running': ('按要求在备用主机上保留运行', 'Left running on the standby, as asked'),
    'reason_not_done': ('前一步失败或演练中止，该步骤未执行',
                        'Not done: an earlier step failed or the drill stopped'),
    # the monthly report's drills
    'sec_report_drills': ('恢复演练与灾难恢复演练', 'Restore and disaster-recovery drills'),
    'no_report_drills': ('本期没有恢复演练或灾难恢复演练。',
                         'No restore or disaster-recovery drill in this period.'),
    'col_drill_kind': ('演练类型', 'Drill'),
    'col_drill_what': ('备份集或备份', 'Backup set or backup'),
    # the DR plan
    'sec_dr_plan_scope': ('适用范围', 'Scope'),
    'dr_plan_intro': (
        '本计划依据资产清单与运维记录生成，适用于下列系统。各系统的恢复点目标（RPO）为备份集的要求，'
        '恢复时间目标（RTO）为 {rto} 分钟；「最近灾难恢复演练」列出每个系统'
        '最近一次灾难恢复演练的实测恢复用时。'
        '发生灾难时按对应场景的步骤执行，并通知下列联系人。',
        'This plan is generated from the inventory and the maintenance records and covers the systems below. '
        "Each system's recovery point objective (RPO) is its backup sets' requirement; the recovery time "
        'objective (RTO) is {rto} minutes; "Last DR drill" gives the measured recovery time of each '
        'system\'s most recent disaster-recovery drill. In a disaster, follow the steps of the matching '
        'scenario and inform the contacts below.'),
    'sec_dr_plan_systems': ('系统与恢复目标', 'Systems and recovery targets'),
    'sec_dr_plan_hosts': ('主机与角色', 'Hosts and roles'),
    'sec_dr_plan_backups': ('备份存放位置', 'Where the backups live'),
    'sec_dr_plan_steps': ('各场景处置步骤', 'Steps per scenario'),
    'sec_dr_plan_contacts': ('联系人', 'Contacts'),
    'dr_plan_no_hosts': ('资产清单中没有主机。', 'No host in the inventory.'),
    'dr_plan_no_backups': ('资产清单中没有描述备份集。', 'No backup set described in the inventory.'),
    'dr_plan_never': ('尚无演练记录', 'No drill yet'),
    'dr_plan_none': ('无', 'none'),
    'dr_plan_last': ('{time}，{outcome}，恢复用时 {seconds} 秒', '{time}, {outcome}, recovery {seconds} s'),
    'dr_plan_standby_for': ('{source} 的备用主机（备份集 {set}）', 'Standby for {source} (backup set {set})'),
    'col_dr_rpo_target': ('RPO 目标（小时）', 'RPO target (h)'),
    'col_dr_rto_target': ('RTO 目标（分钟）', 'RTO target (min)'),
    'col_dr_last': ('最近灾难恢复演练', 'Last DR drill'),
    'col_dr_last_restore': ('最近恢复演练', 'Last restore drill'),
    'col_dr_roles': ('角色', 'Roles'),
    'col_dr_databases': ('数据库', 'Databases'),
    'col_dr_standby_for': ('备用关系', 'Standby for'),
    'col_dr_format': ('备份格式', 'Format'),
    'col_dr_where': ('存放位置', 'Location'),
    'col_dr_contact_role': ('职责', 'Role'),
    'col_dr_contact_name': ('姓名', 'Name'),
    'col_dr_contact_phone': ('电话', 'Phone'),
    'col_dr_scenario': ('场景', 'Scenario'),
    'col_dr_number': ('序号', 'No.'),
    'col_dr_action': ('处置步骤', 'Action'),
    'dr_role_app': ('应用服务器', 'application server'),
    'dr_role_db': ('数据库服务器', 'database server'),
    'dr_role_interface': ('接口服务器', 'interface server'),
    'dr_role_standby': ('备用主机', 'standby host'),
    'dr_plan_db_lost': ('数据库主机损毁', 'Database host lost'),
    'dr_plan_db_lost_1': ('确认数据库主机（{db_hosts}）无法在 RTO 内修复，'
                          '通知项目负责人与医院信息科，启动本预案。',
                          'Confirm that the database host ({db_hosts}) cannot be repaired within the RTO; '
                          'inform the project lead and the hospital IT department; start this plan.'),
    'dr_plan_db_lost_2': ('在备用主机（{standby}）上恢复最新的已校验备份并启动业务服务'
                          '（运行灾难恢复演练剧本，设为保留运行）。',
                          'Restore the newest verified backup on the standby ({standby}) and start the '
                          'service: '
                          'ansible-playbook playbooks/dr_drill.yml -e dr_drill_leave_running=true.'),
    'dr_plan_db_lost_3': ('将各应用主机（{app_hosts}）的数据库连接改为备用主机，重启服务并运行健康检查。',
                          'Point the application hosts ({app_hosts}) at the standby database, restart the '
                          'service and run its health check.'),
    'dr_plan_db_lost_4': ('核对恢复数据的最新时间（实际 RPO），由临床科室补录其后的治疗记录。',
                          'Check the newest time in the restored data (the RPO achieved); the clinical staff '
                          're-enter the treatments recorded after it.'),
    'dr_plan_db_lost_5': ('记录恢复用时，填写灾难恢复演练记录并由医院信息科确认签字。',
                          'Record the recovery time, complete the disaster-recovery record and have the '
                          'hospital IT department sign it.'),
    'dr_plan_app_lost': ('应用主机损毁', 'Application host lost'),
    'dr_plan_app_lost_1': ('确认损毁的应用主机，在其余应用主机（{app_hosts}）上继续提供服务并运行健康检查。',
                           'Identify the lost application host; keep the service on the other application '
                           'hosts ({app_hosts}) and run their health checks.'),
    'dr_plan_app_lost_2': ('无其余应用主机可用时，在备用主机（{standby}）上安装并启动业务服务，'
                           '连接生产数据库。',
                           'With no other application host, install and start the service on the standby '
                           '({standby}) against the production database.'),
    'dr_plan_app_lost_3': ('重建损毁的主机：安装操作系统与当前版本的业务软件（升级剧本），运行巡检确认。',
                           'Rebuild the lost host: operating system and the current release of the service '
                           '(the upgrade playbook); confirm with an inspection.'),
    'dr_plan_ransomware': ('勒索病毒', 'Ransomware'),
    'dr_plan_ransomware_1': ('立即断开受感染主机的网络，保留现场，通知项目负责人与医院信息科。',
                             'Disconnect the infected hosts from the network at once, keep the evidence, '
                             'inform the project lead and the hospital IT department.'),
    'dr_plan_ransomware_2': ('依据备份检查记录与恢复演练记录，找出感染前最后一份校验通过且演练成功的备份。',
                             'From the backup check and restore drill records, find the last backup before '
                             'the '
                             'infection that was verified and drilled successfully.'),
    'dr_plan_ransomware_3': ('在干净的备用主机（{standby}）上恢复该备份并启动业务服务'
                             '（运行灾难恢复演练剧本，指定该备份，设为保留运行）。',
                             'Restore that backup on a clean standby ({standby}) and start the service '
                             '(the DR '
                             'drill playbook with that backup, left running).'),
    'dr_plan_ransomware_4': ('重置所有账户与数据库密码，清除并重建受感染主机后再接入网络。',
                             'Reset every account and database password; wipe and rebuild the infected hosts '
                             'before they rejoin the network.'),
    'dr_plan_ransomware_5': ('核对丢失时段（实际 RPO），由临床科室补录治疗记录；'
                             '恢复用时不超过 RTO 目标 {rto} 分钟。',
                             'Check the period lost (the RPO achieved); the clinical staff re-enter the '
                             'treatments; the recovery should stay within the RTO target of {rto} minutes.'),
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
        if prefix in COMPOUND_ITEMS and ':' in arg:
            # backup:<set>:<check> -> ('backup_<check>', '<set>'): the check picks the sentence
            arg, check = arg.rsplit(':', 1)
            return '%s_%s' % (prefix, check), arg
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
        fields.update(_figures(item, FIGURE_FIELDS.get(key.partition('_')[0], ())))
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


def _figures(item, names):
    """Figures an item carries beside its value (backup_check: ``drop_percent``...), as
    the sentences of its reasons print them; a threshold's levels as ``limit``."""
    out = {}
    for name in names:
        if name == 'limit':
            threshold = item.get('threshold')
            level = threshold.get('critical', threshold.get('warning')) if isinstance(threshold, dict) \
                else threshold
            out['limit'] = format_number(level)
        elif name.endswith('_mib'):
            raw = item.get(name[:-4] + '_bytes')
            numeric = isinstance(raw, (int, float))
            out[name] = ('%.2f' % (raw / 1048576.0)).rstrip('0').rstrip('.') if numeric else ''
        else:
            raw = item.get(name)
            out[name] = format_number(raw) if isinstance(raw, (int, float)) else ('' if raw is None else raw)
    return out


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
