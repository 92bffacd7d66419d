------------------------------------------------------------------------
-- The HTML report (src/report.c)
------------------------------------------------------------------------
-- One self-contained HTML page (inline SVG, no scripts or external
-- resources): headline figures, A/R aging, weekly dollars collected,
-- collection rate by segment, the open staff queue and the next tasks.
-- Reads practice, account, ledger and task under the caller's rights
-- (row-level security applies); as_of ends every time window.
CREATE FUNCTION @extschema@.report_html(practice_id text, as_of timestamptz DEFAULT now())
  RETURNS text
  AS 'MODULE_PATHNAME', 'report_html' LANGUAGE C STABLE;
REVOKE ALL ON FUNCTION @extschema@.report_html(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.report_html(text, timestamptz) TO collect_staff;
