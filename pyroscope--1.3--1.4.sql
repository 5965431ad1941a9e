/* pyroscope--1.3--1.4.sql: JFR recordings, speedscope documents and OTLP profiles ingested from SQL */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pyroscope UPDATE TO '1.4'" to load this file. \quit

CREATE FUNCTION @extschema@.ingest_jfr(data bytea,
									   labels_part bytea DEFAULT NULL,
									   labels jsonb DEFAULT '{}',
									   tenant text DEFAULT 'anonymous',
									   sample_rate integer DEFAULT 100,
									   at timestamptz DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pyroscope_ingest_jfr'
	LANGUAGE C VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ingest_jfr(bytea, bytea, jsonb, text, integer, timestamptz) IS
	'stores a JFR recording (gzip or raw; async-profiler, the Pyroscope Java agent or the JDK''s Flight Recorder) as the profiles upstream makes of it, one per group of events (process_cpu, wall, memory, mutex, block), and returns the number of series written; labels_part is the Java agent''s LabelsSnapshot (context labels), sample_rate the Hz of cpu and wall samples, "at" the profiles'' time (NULL: the recording''s start); NULL data, labels or tenant give NULL';

CREATE FUNCTION @extschema@.ingest_speedscope(data bytea,
											  labels jsonb DEFAULT '{}',
											  tenant text DEFAULT 'anonymous',
											  kind text DEFAULT '',
											  sample_rate integer DEFAULT 100,
											  at timestamptz DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pyroscope_ingest_speedscope'
	LANGUAGE C VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ingest_speedscope(bytea, jsonb, text, text, integer, timestamptz) IS
	'stores a speedscope JSON document (evented and sampled profiles; equal profiles merged as upstream does) and returns the number of series written; each profile is labelled profile_name; with several profiles each one''s unit names its type (milliseconds etc.: wall, bytes: memory), a single one is of type "kind" (the suffix /ingest takes: cpu, wall, alloc_space, ...); time units are stored in nanoseconds, "none" units as samples at sample_rate; "at" is the time (NULL: now); NULL data, labels or tenant give NULL';

CREATE FUNCTION @extschema@.ingest_otlp(data bytea,
										tenant text DEFAULT 'anonymous',
										"json" boolean DEFAULT NULL)
	RETURNS integer
	AS 'MODULE_PATHNAME', 'pyroscope_ingest_otlp'
	LANGUAGE C VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ingest_otlp(bytea, text, boolean) IS
	'stores an OpenTelemetry ExportProfilesServiceRequest (OTLP profiles v1.10, or the v1.8/v1.9 sample layout; binary protobuf or, with json or when the data starts with "{", protobuf-JSON; gzip or not) as upstream maps it: one profile per Profile and sample service.name, labelled with its resource and scope attributes; returns the number of series written; profiles that map to no profile type (no period type) are not stored and reported in a WARNING; NULL data or tenant give NULL';
