-- Down of 0003: back to the 1.1 schema (the prescriptions are lost).
ALTER TABLE treatment_session DROP COLUMN dialysate_ca_mmol_l, DROP COLUMN dialysate_k_mmol_l;
