/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  pyroscope.shard_key(tenant, service_name): the distribution key the
 *	  big tables carry (src/engine/shard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pyroscope_shard_key_sql);

Datum
pyroscope_shard_key_sql(PG_FUNCTION_ARGS)
{
	char	   *tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *service = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_INT32(pyroscope_shard_key(tenant, service));
}
