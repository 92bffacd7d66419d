-- collect 0.1 -> 0.2. 0.1 is frozen in sql/releases/collect--0.1.sql.
-- Every change to sql/install/*.sql since 0.1 is repeated here, so that
-- ALTER EXTENSION collect UPDATE ends in the same schema as a fresh install
-- of 0.2 (test/t/security_upgrade.sh compares the two catalogs).
\echo Use "ALTER EXTENSION collect UPDATE TO '0.2'" to load this file. \quit

-- contact_attempt.segment: the account's segment at the attempt, which the
-- channel bandit credits (src/learn.c learn_update)
ALTER TABLE @extschema@.contact_attempt ADD COLUMN segment text;
