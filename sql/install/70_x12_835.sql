------------------------------------------------------------------------
-- X12 835 remittance import (src/x12_835.c, src/x12_835_parse.c)
------------------------------------------------------------------------
-- Posts the patient responsibility of an 835 file to the ledger: one row
-- per claim (charge, or adjustment for reversals), patients matched by
-- CLP01 and created from NM1*QC when unknown. Idempotent by
-- 835:<TRN02>:<CLP07>:<occurrence>. A malformed file raises 22P02 naming
-- the segment and posts nothing. posted_at NULL: the remittance date
-- (DTM*405, else BPR16) at noon in the practice's time zone. Returns one
-- row per payment (ST), claim, PLB adjustment and file-level warning.
CREATE FUNCTION @extschema@.import_835(practice_id text, contents text, posted_at timestamptz DEFAULT NULL)
  RETURNS TABLE(segment int, record text, patient_id text, payer_claim_id text, claim_status text,
                billed numeric, insurance_paid numeric, patient_responsibility numeric,
                posted text, external_id text, note text)
  AS 'MODULE_PATHNAME', 'import_835' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.import_835(text, text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.import_835(text, text, timestamptz) TO collect_writer;
