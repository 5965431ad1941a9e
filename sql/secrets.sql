-- The S3 secret is never shown: not by SHOW, current_setting() or
-- pg_settings, not to pg_monitor (pg_read_all_settings) members, not even
-- to a superuser; only whether one is set.
SET pyroscope.s3_secret_key = 'very-secret-value';
SHOW pyroscope.s3_secret_key;
SELECT current_setting('pyroscope.s3_secret_key');
SELECT setting, reset_val = '' AS reset_is_empty FROM pg_settings WHERE name = 'pyroscope.s3_secret_key';
SELECT count(*) AS leaks FROM pg_settings WHERE setting LIKE '%very-secret%' OR reset_val LIKE '%very-secret%';
CREATE ROLE regress_pyroscope_monitor IN ROLE pg_monitor;
GRANT USAGE ON SCHEMA pyroscope TO regress_pyroscope_monitor;
SET ROLE regress_pyroscope_monitor;
SHOW pyroscope.s3_secret_key;
SELECT current_setting('pyroscope.s3_secret_key');
SELECT count(*) AS leaks FROM pg_settings WHERE setting LIKE '%very-secret%';
-- and it cannot be set by them
SET pyroscope.s3_secret_key = 'other';
RESET ROLE;
DROP OWNED BY regress_pyroscope_monitor;
DROP ROLE regress_pyroscope_monitor;
RESET pyroscope.s3_secret_key;
SHOW pyroscope.s3_secret_key;
