-- Peritoneal dialysis home programme (MariaDB 10.11, database pd): patients' home exchanges.
-- Synthetic data only: pseudonymous codes (D000123), birth year, sex. Idempotent (IF NOT EXISTS):
-- lab/software/generator/generate.py --system pd applies it before every seed.

CREATE TABLE IF NOT EXISTS pd_patient (
    id          INT UNSIGNED NOT NULL PRIMARY KEY,
    code        CHAR(7) NOT NULL,
    birth_year  SMALLINT NOT NULL,
    sex         CHAR(1) NOT NULL,
    modality    ENUM('CAPD', 'APD') NOT NULL,
    started_on  DATE NOT NULL,
    active      TINYINT(1) NOT NULL DEFAULT 1,
    UNIQUE KEY uq_pd_patient_code (code),
    CONSTRAINT ck_pd_patient_sex CHECK (sex IN ('F', 'M', 'X'))
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS pd_prescription (
    id                INT UNSIGNED NOT NULL PRIMARY KEY,
    patient_id        INT UNSIGNED NOT NULL,
    solution          VARCHAR(20) NOT NULL,
    fill_volume_ml    SMALLINT UNSIGNED NOT NULL,
    exchanges_per_day TINYINT UNSIGNED NOT NULL,
    valid_from        DATE NOT NULL,
    valid_to          DATE NULL,
    KEY idx_pd_prescription_patient (patient_id, valid_from),
    CONSTRAINT fk_pd_prescription_patient FOREIGN KEY (patient_id) REFERENCES pd_patient (id)
) ENGINE = InnoDB;

-- The big table: one row per bag exchange, as entered at home or read from the cycler.
CREATE TABLE IF NOT EXISTS pd_exchange (
    id              BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    patient_id      INT UNSIGNED NOT NULL,
    performed_at    DATETIME NOT NULL,
    solution        ENUM('glucose_1_36', 'glucose_2_27', 'glucose_3_86', 'icodextrin_7_5') NOT NULL,
    fill_volume_ml  SMALLINT UNSIGNED NOT NULL,
    drain_volume_ml SMALLINT UNSIGNED NOT NULL,
    dwell_minutes   SMALLINT UNSIGNED NOT NULL,
    uf_ml           SMALLINT NOT NULL,
    effluent_cloudy TINYINT(1) NOT NULL DEFAULT 0,
    KEY idx_pd_exchange_patient_performed (patient_id, performed_at),
    KEY idx_pd_exchange_performed (performed_at),
    CONSTRAINT fk_pd_exchange_patient FOREIGN KEY (patient_id) REFERENCES pd_patient (id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS pd_peritonitis_episode (
    id          INT UNSIGNED NOT NULL PRIMARY KEY,
    patient_id  INT UNSIGNED NOT NULL,
    onset_date  DATE NOT NULL,
    organism    VARCHAR(40) NOT NULL,
    resolved_on DATE NULL,
    KEY idx_pd_peritonitis_patient (patient_id, onset_date),
    CONSTRAINT fk_pd_peritonitis_patient FOREIGN KEY (patient_id) REFERENCES pd_patient (id)
) ENGINE = InnoDB;
