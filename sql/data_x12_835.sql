-- collect.import_835 on the public 835 files in ../shared/data/x12_835
-- (COLLECT_SHARED overrides where shared/ is) and on small synthetic
-- files for the rules the public ones do not exercise. The expected
-- patient responsibility per claim was checked by hand against each file:
-- CLP05 and the CAS PR amounts (claim and service-line level).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS collect CASCADE;
CREATE EXTENSION collect;
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('era', 'ERA test', 'America/New_York');

\set managed `cat "${COLLECT_SHARED:-../shared}/data/x12_835/managed-care.835"`
\set secondary `cat "${COLLECT_SHARED:-../shared}/data/x12_835/secondary-payment.835"`
\set tertiary `cat "${COLLECT_SHARED:-../shared}/data/x12_835/tertiary-payment.835"`
\set cob `cat "${COLLECT_SHARED:-../shared}/data/x12_835/cob-contractural-adjustment.835"`
\set medicare `cat "${COLLECT_SHARED:-../shared}/data/x12_835/medicare-part-a.835"`
\set pyx12 `cat "${COLLECT_SHARED:-../shared}/data/x12_835/pyx12-835_mult_loops.txt"`
\set example1 `cat "${COLLECT_SHARED:-../shared}/data/x12_835/x12parser-5010_Example1.txt"`
\set deident `cat "${COLLECT_SHARED:-../shared}/data/x12_835/x12parser-4010-deident.dat"`

-- managed-care.835: CAS*PR*1 deductible 300.00 and 600.00 = CLP05 of each claim
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'managed');
-- secondary-payment.835: claim 1 has only OA (0.00); claim 2 has PR 150.00 + 70.00 = CLP05 220.00
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'secondary');
-- cob-contractural-adjustment.835: OA 516.00 and a negative OA -9.00, no PR: nothing owed
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'cob');
-- medicare-part-a.835: CO only (nothing owed) and a PLB of -1.27 between payer and provider
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'medicare');
-- pyx12: a denied, zero-payment claim with CO/OA only: nothing owed
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'pyx12');
-- x12parser 5010 example (BOM, CRLF, indentation): only 333333 has PR (14.92 = CLP05);
-- the denials' CLP05 (25.95, 162.13) are CO/CR, not the patient's; reversals carry no PR
SELECT segment, record, patient_id, claim_status, billed, insurance_paid, patient_responsibility, posted, note
  FROM collect.import_835('era', :'example1');
-- tertiary-payment.835 is malformed: SVC01 has no procedure code
SELECT * FROM collect.import_835('era', :'tertiary');
-- x12parser 4010 (375 claims, masked amounts): volume and 4010 CR reversals
SELECT record, posted, count(*), sum(patient_responsibility) AS responsibility
  FROM collect.import_835('era', :'deident') GROUP BY 1, 2 ORDER BY 1, 2;

-- hand-checked totals per claim, as posted in the ledger
SELECT patient_id, kind, amount, billed_amount, insurance_paid, service_date, posted_at, external_id
  FROM collect.ledger WHERE practice_id = 'era' AND patient_id !~ '^9' ORDER BY entry_id;
SELECT (SELECT amount FROM collect.ledger WHERE patient_id = '5554555444') = 300.00 AS managed_1,
       (SELECT amount FROM collect.ledger WHERE patient_id = '8765432112') = 600.00 AS managed_2,
       (SELECT amount FROM collect.ledger WHERE patient_id = '0001000053') = 220.00 AS secondary_2,
       (SELECT amount FROM collect.ledger WHERE patient_id = '333333') = 14.92 AS example1_333333,
       (SELECT count(*) FROM collect.ledger WHERE patient_id IN ('L0004828311', '0001000055', '666123', '777777',
                                                                 '2005555A', '999999', '888888', '123456', '090909')) = 0
         AS nothing_for_the_others;
-- patients created from NM1*QC, names in title case
SELECT patient_id, first_name, last_name FROM collect.patient WHERE practice_id = 'era' AND patient_id !~ '^9' ORDER BY 1;
-- balances equal the ledger sums
SELECT bool_and(a.balance = l.s) AS balances_match
  FROM collect.account a
  JOIN (SELECT practice_id, patient_id, sum(CASE WHEN kind = 'charge' THEN amount ELSE -amount END) AS s
          FROM collect.ledger GROUP BY 1, 2) l USING (practice_id, patient_id);

-- importing every file again posts nothing new
SELECT count(*) AS entries_before FROM collect.ledger \gset
SELECT posted, count(*) FROM (
  SELECT posted FROM collect.import_835('era', :'managed') UNION ALL
  SELECT posted FROM collect.import_835('era', :'secondary') UNION ALL
  SELECT posted FROM collect.import_835('era', :'cob') UNION ALL
  SELECT posted FROM collect.import_835('era', :'medicare') UNION ALL
  SELECT posted FROM collect.import_835('era', :'pyx12') UNION ALL
  SELECT posted FROM collect.import_835('era', :'example1') UNION ALL
  SELECT posted FROM collect.import_835('era', :'deident')) r
 WHERE posted IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT count(*) = :entries_before AS nothing_new FROM collect.ledger;

-- other delimiters: '|' elements, '}' components, newline terminators, indentation: same postings
SELECT posted, patient_responsibility
  FROM collect.import_835('era', regexp_replace(translate(:'managed', '*:~', '|}' || chr(10)), E'\n', E'\n    ', 'g'))
 WHERE record = 'claim';

-- the ISA declares '~' but the segments end with new lines (CRLF): read by lines, with a warning
SELECT record, posted, patient_responsibility, note
  FROM collect.import_835('era', substr(:'managed', 1, 106) || replace(substr(:'managed', 107), '~', E'\r\n'))
 WHERE record IN ('claim', 'warning');

------------------------------------------------------------------------
-- synthetic remittances: reversals, denials with PR, negative PR
------------------------------------------------------------------------
INSERT INTO collect.practice (practice_id, name, timezone) VALUES ('syn', 'Synthetic', 'America/Chicago');
CREATE FUNCTION pg_temp.era(trace text, body text) RETURNS text LANGUAGE sql AS $$
  SELECT 'ISA*00*          *00*          *ZZ*PAYER          *ZZ*PRACTICE       *240101*1200*^*00501*000000001*0*P*:~' ||
         'GS*HP*PAYER*PRACTICE*20240101*1200*1*X*005010X221A1~ST*835*0001~BPR*I*0*C*NON************20240105~' ||
         'TRN*1*' || trace || '*1999999999~DTM*405*20240105~N1*PR*TEST PAYER~N1*PE*TEST PRACTICE*XX*1234567893~LX*1~' ||
         body || 'SE*' || (8 + length(body) - length(replace(body, '~', ''))) || '*0001~GE*1*1~IEA*1*000000001~'
$$;
-- the original claim: 100.00 deductible
SELECT segment, record, patient_id, patient_responsibility, posted, external_id
  FROM collect.import_835('syn', pg_temp.era('T1',
       'CLP*P100*1*500*400*100*12*ICN1~NM1*QC*1*DOE*JANE****MI*M1~SVC*HC:99213*500*400~DTM*472*20231201~' ||
       'CAS*PR*1*100~'));
-- the payer reverses it (CLP02 22, negated amounts) and pays it again with 80.00 coinsurance
SELECT segment, record, patient_id, claim_status, patient_responsibility, posted, external_id, note
  FROM collect.import_835('syn', pg_temp.era('T2',
       'CLP*P100*22*-500*-400*-100*12*ICN1~NM1*QC*1*DOE*JANE****MI*M1~SVC*HC:99213*-500*-400~CAS*PR*1*-100~' ||
       'CLP*P100*1*500*420*80*12*ICN1~NM1*QC*1*DOE*JANE****MI*M1~SVC*HC:99213*500*420~CAS*PR*2*80~'));
SELECT kind, amount FROM collect.ledger WHERE practice_id = 'syn' AND patient_id = 'P100' ORDER BY entry_id;
SELECT balance = 80.00 AS owes_the_corrected_amount FROM collect.account WHERE practice_id = 'syn' AND patient_id = 'P100';
-- a denial the patient owes (non-covered, PR 204); a negative PR correction; a predetermination
SELECT segment, patient_id, claim_status, patient_responsibility, posted, note
  FROM collect.import_835('syn', pg_temp.era('T3',
       'CLP*P200*4*50*0*50*12*ICN2~NM1*QC*1*ROE*RICHARD****MI*M2~CAS*PR*204*50~' ||
       'CLP*P100*2*0*0**12*ICN3~CAS*PR*1*-5~' ||
       'CLP*P300*25*900*0*0*12*ICN4~CAS*CO*45*900~'));
-- a reversal sent with positive amounts still takes back (P200's denial above)
SELECT segment, patient_id, claim_status, patient_responsibility, posted, note
  FROM collect.import_835('syn', pg_temp.era('T4', 'CLP*P200*22*50*0*50*12*ICN2~NM1*QC*1*ROE*RICHARD~CAS*PR*204*50~'))
 WHERE record = 'claim';
SELECT patient_id, balance FROM collect.account WHERE practice_id = 'syn' ORDER BY 1;
-- a repost of a claim with a different amount is refused and posts nothing
SELECT count(*) AS entries_before FROM collect.ledger \gset
SELECT * FROM collect.import_835('syn', pg_temp.era('T1',
       'CLP*P999*1*10*0*10*12*ICN9~CAS*PR*1*10~' ||
       'CLP*P100*1*500*400*90*12*ICN1~NM1*QC*1*DOE*JANE****MI*M1~CAS*PR*1*90~'));
SELECT count(*) = :entries_before AS nothing_posted, NOT EXISTS (SELECT 1 FROM collect.patient WHERE patient_id = 'P999') AS no_patient
  FROM collect.ledger;

------------------------------------------------------------------------
-- malformed files: a precise error, nothing posted
------------------------------------------------------------------------
SELECT * FROM collect.import_835('syn', '');
SELECT * FROM collect.import_835('syn', 'hello world');
SELECT * FROM collect.import_835('syn', 'ISA*00*');
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*PR*1*10~'), 'SE*10*', 'SE*11*'));
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*PR*1*10~'), 'GE*1*1~IEA*1*000000001~', ''));
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*PR*1*10~'), 'SE*10*0001~', ''));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*PR*1*1O.00~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*PR*1*10.001~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~CAS*XX*1*10~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CAS*PR*1*10~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*P1*99*10*0*10*12*I5~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~DTM*472*20230230~'));
SELECT * FROM collect.import_835('syn', pg_temp.era('T5', 'CLP*BAD ID*1*10*0*10*12*I5~CAS*PR*1*10~'));
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~'), 'ST*835', 'ST*837'));
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~'), 'TRN*1*T5*1999999999~', ''));
SELECT * FROM collect.import_835('syn', replace(pg_temp.era('T5', 'CLP*P1*1*10*0*10*12*I5~'), 'CLP', 'cl$'));
SELECT * FROM collect.import_835('nope', :'managed');
SELECT count(*) = :entries_before AS nothing_posted FROM collect.ledger;
