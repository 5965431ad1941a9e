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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/rls.h"

static const char *const access_names[] = {"read", "write", "any"};


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

/*
 * The tenants the current role may use for access, from
 * pyroscope.tenant_grants: *all when every tenant (superusers, members of
 * pyroscope_admin, a grant on *), else the list (*n of them, valid
 * until the next call).  One query per role and access until the grants
 * or roles change: the row-level security policies ask once per statement,
 * and an upload or query runs many statements.
 */
typedef struct RoleTenants
{
	Oid			user;
	bool		valid;
	bool		all;
	int			n;
	char	  **tenants;		/* in cache_cxt */
} RoleTenants;

static RoleTenants role_tenants_cache[3];
static MemoryContext cache_cxt = NULL;

/*
 * The answers are kept until something they depend on changes: the grants
 * (a statement trigger on pyroscope.tenant_grants sends a relcache
 * invalidation, pyroscope_tenant_grants_changed) or roles and their
 * memberships (syscache invalidations).  Any relcache invalidation drops
 * them, which is rare enough and always right.
 */
static void
role_tenants_reset(void)
{
	for (int i = 0; i < (int) lengthof(role_tenants_cache); i++)
		role_tenants_cache[i].valid = false;
	if (cache_cxt)
		MemoryContextReset(cache_cxt);
}

static void
relcache_changed(Datum arg, Oid relid)
{
	role_tenants_reset();
}

static void
syscache_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	role_tenants_reset();
}

/* Trigger: the grants changed (tell every backend's cache). */
void
pyroscope_grants_changed(Oid relid)
{
	CacheInvalidateRelcacheByRelid(relid);
}

char	  **
pyroscope_role_tenant_list(PyroTenantAccess access, int *n, bool *all)
{
	RoleTenants *c = &role_tenants_cache[access];
	int			nestlevel;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	if (cache_cxt == NULL)
	{
		cache_cxt = AllocSetContextCreate(TopMemoryContext, "pyroscope role tenants",
										  ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(relcache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, syscache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMMEMROLE, syscache_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, syscache_changed, (Datum) 0);
	}
	if (c->valid && c->user == GetUserId())
	{
		*n = c->n;
		*all = c->all;
		return c->tenants;
	}
	c->valid = false;
	values[0] = CStringGetTextDatum(access_names[access]);

	/*
	 * Under Citus the policies call this on the workers too, inside a query
	 * on a shard: reading the grants (a reference table, with a copy on every
	 * node) is then a nested distributed query, which Citus allows only when
	 * told to.  A reference table's local copy is the same everywhere, so the
	 * answer is right; the setting lasts for this query.
	 */
	nestlevel = NewGUCNestLevel();
	if (GetConfigOption("citus.allow_nested_distributed_execution", true, false) != NULL)
		(void) set_config_option("citus.allow_nested_distributed_execution", "on",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	if (SPI_execute_with_args(
							  "SELECT COALESCE(pg_catalog.pg_has_role(pg_catalog.to_regrole('pyroscope_admin'), 'USAGE'),"
							  "                false)"
							  "    OR COALESCE(pg_catalog.bool_or(g.tenant = '*'), false),"
							  "       pg_catalog.array_agg(DISTINCT g.tenant)"
							  "  FROM pyroscope.tenant_grants g"
							  " WHERE pg_catalog.pg_has_role(pg_catalog.to_regrole(pg_catalog.quote_ident(g.role)), 'USAGE')"
							  "   AND CASE $1 WHEN 'read' THEN g.can_read"
							  "               WHEN 'write' THEN g.can_write"
							  "               ELSE g.can_read OR g.can_write END",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not look up the tenant grants");
	c->all = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	c->n = 0;
	c->tenants = NULL;
	if (!c->all)
	{
		Datum		arr = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);

		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			nelems;

			deconstruct_array(DatumGetArrayTypeP(arr), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &nelems);
			c->tenants = MemoryContextAlloc(cache_cxt, sizeof(char *) * Max(nelems, 1));
			for (int i = 0; i < nelems; i++)
				if (!nulls[i])
					c->tenants[c->n++] = MemoryContextStrdup(cache_cxt,
															 TextDatumGetCString(elems[i]));
		}
	}
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	c->user = GetUserId();
	c->valid = true;
	*n = c->n;
	*all = c->all;
	return c->tenants;
}

/* Whether the current role may use the tenant for access. */
bool
pyroscope_tenant_allowed(const char *tenant, PyroTenantAccess access)
{
	char	  **tenants;
	int			n;
	bool		all;

	if (!rls_applies())
		return true;
	tenants = pyroscope_role_tenant_list(access, &n, &all);
	if (all)
		return true;
	for (int i = 0; i < n; i++)
		if (strcmp(tenants[i], tenant) == 0)
			return true;
	return false;
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
