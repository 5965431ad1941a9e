/*-------------------------------------------------------------------------
 *
 * access.c
 *	  Tenants are PostgreSQL roles: which tenants the current role may read
 *	  and write (pyroscope.tenant_grants, through pyroscope.role_tenants),
 *	  and running a piece of work as another role (the HTTP workers run each
 *	  request as the role of its credential).  Row-level security on the
 *	  tables applies the grants to every statement; the checks here only
 *	  turn a refused tenant into a clear error before any work is done.
 *
 *-------------------------------------------------------------------------
 */
#include "engine.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/rls.h"

static const char *const access_names[] = {"read", "write", "any"};

/* the last answer of pyroscope_tenant_allowed, valid in its transaction */
static LocalTransactionId cache_lxid = InvalidLocalTransactionId;
static Oid	cache_user = InvalidOid;
static PyroTenantAccess cache_access;
static char cache_tenant[160];
static bool cache_allowed;

/*
 * Whether row-level security restricts the current role on the tables of
 * tenant data (not for superusers, the tables' owner, BYPASSRLS roles).
 */
static bool
rls_applies(void)
{
	Oid			relid = RangeVarGetRelid(makeRangeVar("pyroscope", "series", -1), NoLock, true);

	return OidIsValid(relid) && check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED;
}

/* Whether the current role may use the tenant for access. */
bool
pyroscope_tenant_allowed(const char *tenant, PyroTenantAccess access)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	bool		allowed;

	if (!rls_applies())
		return true;
	/* one lookup per role, tenant and access in a transaction */
	if (cache_lxid == MyProc->lxid && cache_user == GetUserId() &&
		cache_access == access && strcmp(cache_tenant, tenant) == 0)
		return cache_allowed;
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(access_names[access]);
	SPI_connect();
	if (SPI_execute_with_args("SELECT pyroscope.tenant_allowed($1, $2)",
							  2, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look up the tenant grants");
	allowed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										 &isnull));
	SPI_finish();
	allowed = !isnull && allowed;
	if (strlen(tenant) < sizeof(cache_tenant))
	{
		strlcpy(cache_tenant, tenant, sizeof(cache_tenant));
		cache_lxid = MyProc->lxid;
		cache_user = GetUserId();
		cache_access = access;
		cache_allowed = allowed;
	}
	return allowed;
}

/* Error out with 42501 unless the current role may use the tenant for access. */
void
pyroscope_require_tenant(const char *tenant, PyroTenantAccess access)
{
	if (!pyroscope_tenant_allowed(tenant, access))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" may not %s tenant \"%s\"",
						GetUserNameFromId(GetUserId(), false),
						access == PYRO_ACCESS_WRITE ? "write to" : "read", tenant),
				 errhint("Grant it in pyroscope.tenant_grants.")));
}

/*
 * Act as the named role until pyroscope_end_as_role(): what the statements
 * of the current transaction read and write is then what that role may.
 * The role is looked up by name (an unknown role is an error, 42501); a
 * transaction abort restores the previous user on its own.
 */
void
pyroscope_begin_as_role(const char *role, PyroRoleState *saved)
{
	Oid			roleid = get_role_oid(role, true);

	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("the role \"%s\" of these credentials does not exist", role)));

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(roleid, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

void
pyroscope_end_as_role(const PyroRoleState *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}
