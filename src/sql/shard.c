/*-------------------------------------------------------------------------
 *
 * shard.c
 *	  pyroscope.shard_key(tenant, service_name): the distribution key the
 *	  big tables carry (src/engine/shard.c); and the event trigger that
 *	  lets DROP EXTENSION pyroscope drop a Citus installation.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "commands/event_trigger.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(pyroscope_shard_key_sql);
PG_FUNCTION_INFO_V1(pyroscope_drop_extension_start);

Datum
pyroscope_shard_key_sql(PG_FUNCTION_ARGS)
{
	char	   *tenant = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *service = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PG_RETURN_INT32(pyroscope_shard_key(tenant, service));
}

/*
 * pyroscope.drop_extension_start(): on ddl_command_start of DROP
 * EXTENSION, when the statement names pyroscope, the shards of its tables
 * go first (on a Citus coordinator; nothing otherwise).
 */
Datum
pyroscope_drop_extension_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	DropStmt   *stmt;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("pyroscope.drop_extension_start() runs only as an event trigger")));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (!IsA(trigdata->parsetree, DropStmt))
		PG_RETURN_VOID();
	stmt = (DropStmt *) trigdata->parsetree;
	if (stmt->removeType != OBJECT_EXTENSION)
		PG_RETURN_VOID();
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "pyroscope") == 0)
		{
			pyroscope_drop_distributed_shards();
			break;
		}
	}
	PG_RETURN_VOID();
}
