/*-------------------------------------------------------------------------
 *
 * pbc_alloc.c
 *	  The protobuf-c allocator of the core: every allocation protobuf-c
 *	  makes on our behalf goes through pyro_malloc/pyro_free, so that the
 *	  engine's memory contexts and the tests' leak checks see it.
 *
 *-------------------------------------------------------------------------
 */
#include "pbc_alloc.h"

static void *
pbc_alloc(void *data, size_t size)
{
	(void) data;
	return pyro_malloc(size);
}

static void
pbc_free(void *data, void *ptr)
{
	(void) data;
	pyro_free(ptr);
}

static ProtobufCAllocator pyro_pbc_allocator = {
	pbc_alloc,
	pbc_free,
	NULL
};

const ProtobufCAllocator *
pyro_protobuf_allocator(void)
{
	return &pyro_pbc_allocator;
}
