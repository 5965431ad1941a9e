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

#include "labels.h"

int32
pyroscope_shard_key(const char *tenant, const char *service_name)
{
	return pyro_shard_key(tenant, strlen(tenant), service_name, strlen(service_name));
}
