/*-------------------------------------------------------------------------
 *
 * workers.h
 *	  The background workers of the pyroscope extension other than the
 *	  HTTP API's (bgworkers/http): the compactor and the offloader.  Each
 *	  is a loop (signals, latch, wait events) around a pass of the engine.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_WORKERS_H
#define PYRO_WORKERS_H

/* register the workers (while preloading), from _PG_init */
extern void pyroscope_compactor_register(void);
extern void pyroscope_offloader_register(void);

#endif							/* PYRO_WORKERS_H */
