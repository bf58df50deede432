-- 0003 (release 1.2): dialysate prescription per session (potassium and calcium bath).
ALTER TABLE treatment_session
    ADD COLUMN dialysate_k_mmol_l numeric(3, 1) CHECK (dialysate_k_mmol_l BETWEEN 0 AND 5),
    ADD COLUMN dialysate_ca_mmol_l numeric(4, 2) CHECK (dialysate_ca_mmol_l BETWEEN 1 AND 2);
