-- Interface engine (MariaDB 10.11, database interface_engine on hd-db-01): channels, the message log
-- of every HL7 / telemetry message, and the outbound queue whose 'failed' rows an inspection counts.
-- Synthetic HL7 only. Idempotent (IF NOT EXISTS): generate.py --system interface applies it.

CREATE TABLE IF NOT EXISTS channel (
    id        INT UNSIGNED NOT NULL PRIMARY KEY,
    name      VARCHAR(40) NOT NULL,
    direction ENUM('inbound', 'outbound') NOT NULL,
    protocol  ENUM('mllp', 'tcp') NOT NULL,
    peer      VARCHAR(40) NOT NULL,
    port      SMALLINT UNSIGNED NOT NULL,
    enabled   TINYINT(1) NOT NULL DEFAULT 1,
    UNIQUE KEY uq_channel_name (name)
) ENGINE = InnoDB;

-- The big table.
CREATE TABLE IF NOT EXISTS message_log (
    id           BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    channel_id   INT UNSIGNED NOT NULL,
    direction    ENUM('inbound', 'outbound') NOT NULL,
    message_type VARCHAR(12) NOT NULL,
    control_id   VARCHAR(20) NOT NULL,
    received_at  DATETIME(3) NOT NULL,
    ack_code     CHAR(2) NOT NULL,
    size_bytes   INT UNSIGNED NOT NULL,
    KEY idx_message_log_channel_received (channel_id, received_at),
    KEY idx_message_log_received (received_at),
    KEY idx_message_log_control (control_id),
    CONSTRAINT fk_message_log_channel FOREIGN KEY (channel_id) REFERENCES channel (id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS outbound_message (
    id              BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    channel_id      INT UNSIGNED NOT NULL,
    control_id      VARCHAR(20) NOT NULL,
    message_type    VARCHAR(12) NOT NULL,
    created_at      DATETIME(3) NOT NULL,
    status          ENUM('queued', 'sent', 'failed') NOT NULL DEFAULT 'queued',
    attempts        SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    last_attempt_at DATETIME(3) NULL,
    sent_at         DATETIME(3) NULL,
    last_error      VARCHAR(200) NULL,
    payload         TEXT NOT NULL,
    UNIQUE KEY uq_outbound_message_control (control_id),
    KEY idx_outbound_message_status_created (status, created_at),
    KEY idx_outbound_message_channel (channel_id),
    CONSTRAINT fk_outbound_message_channel FOREIGN KEY (channel_id) REFERENCES channel (id)
) ENGINE = InnoDB;
