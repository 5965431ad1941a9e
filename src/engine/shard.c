/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  The distribution key of the big tables (series, head, head_pprof,
 *	  blocks, object_deletions): shard_key, a hash of the tenant and the
 *	  service name.  Every row of one service of one tenant carries the
 *	  same key, so a hash-partitioned or Citus-distributed installation
 *	  keeps a service's series, head rows, stored pprofs and blocks
 *	  together, and every statement of the engine names the key
 *	  (scripts/check-shard-key.sh) so that it is pruned to the shards it
 *	  needs (docs/scaling-out.md).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "executor/spi.h"

#include "labels.h"

int32
pyroscope_shard_key(const char *tenant, const char *service_name)
{
	return pyro_shard_key(tenant, strlen(tenant), service_name, strlen(service_name));
}

/*
 * Before DROP EXTENSION pyroscope on a Citus coordinator: drop the shards
 * of the extension's distributed and reference tables, on every node, in
 * this transaction (Citus's own citus_drop_all_shards, what its drop
 * trigger calls for a dropped table).  The shards are not members of the
 * extension, and their policies and triggers name its functions, so
 * without this the drop stops at them ("other objects depend on it").
 * The tables themselves then go with the extension, and Citus's drop
 * trigger removes their metadata; the workers' copies of the extension go
 * when Citus sends them the DROP EXTENSION.  Nothing on one node, on a
 * worker, or with a Citus that has no such function: the drop then says
 * what depends on what, as before.
 */
void
pyroscope_drop_distributed_shards(void)
{
	bool		isnull;

	SPI_connect();
	if (SPI_execute("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')"
					" AND pg_catalog.to_regprocedure("
					"'pg_catalog.citus_drop_all_shards(regclass, text, text, boolean)') IS NOT NULL"
					" AND pg_catalog.to_regprocedure('pg_catalog.citus_is_coordinator()') IS NOT NULL",
					true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look for Citus");
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		if (SPI_execute("SELECT pg_catalog.citus_is_coordinator()", true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not ask Citus for this node's role");
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
			SPI_execute("SELECT pg_catalog.count(pg_catalog.citus_drop_all_shards(p.logicalrelid, n.nspname,"
						" c.relname, drop_shards_metadata_only => false))"
						" FROM pg_catalog.pg_dist_partition p"
						" JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid"
						" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
						" JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass"
						" AND d.objid = c.oid AND d.deptype = 'e'"
						" JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'pyroscope'",
						false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not drop the shards of the extension's tables");
	}
	SPI_finish();
}
