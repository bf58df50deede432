-- Down of 0002: back to the 1.0 schema (the assessments are lost).
ALTER TABLE patient DROP COLUMN target_dry_weight_kg;
DROP TABLE dry_weight_assessment;
