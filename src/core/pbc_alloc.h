/*-------------------------------------------------------------------------
 *
 * pbc_alloc.h
 *	  A protobuf-c allocator backed by the core's allocator hooks, so that
 *	  messages unpacked or built by the core are freed with
 *	  protobuf_c_message_free_unpacked(msg, pyro_protobuf_allocator()).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_PBC_ALLOC_H
#define PYRO_PBC_ALLOC_H

#include <protobuf-c/protobuf-c.h>

#include "common.h"

extern const ProtobufCAllocator *pyro_protobuf_allocator(void);

#endif							/* PYRO_PBC_ALLOC_H */
