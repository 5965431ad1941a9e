/*-------------------------------------------------------------------------
 *
 * heatmap.h
 *	  Heatmaps of individual profiles (SelectHeatmap, API-2.md 3.5): points
 *	  (a time and a value each, in output series) counted into slots of
 *	  time and buckets of value, with the highest point of each cell kept
 *	  as its exemplar.  The axes are upstream's.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_HEATMAP_H
#define PYRO_HEATMAP_H

#include "common.h"

#define PYRO_HEATMAP_BUCKETS 20

typedef struct PyroHeatPoint
{
	uint32_t	series;			/* output series index */
	int64_t		ts;				/* ms */
	int64_t		value;
} PyroHeatPoint;

typedef struct PyroHeatSlot
{
	int64_t		ts;				/* ms, the slot's right edge */
	int32_t		counts[PYRO_HEATMAP_BUCKETS];
	size_t		best[PYRO_HEATMAP_BUCKETS]; /* index of the highest point of
											 * each cell, SIZE_MAX if empty */
} PyroHeatSlot;

typedef struct PyroHeatSeries
{
	PyroHeatSlot *slots;		/* non-empty slots, by time */
	size_t		nslots;
	int64_t		count;			/* points in the series */
} PyroHeatSeries;

typedef struct PyroHeatmap
{
	double		y_min[PYRO_HEATMAP_BUCKETS];	/* bucket lower bounds */
	PyroHeatSeries *series;		/* nseries */
	uint32_t	nseries;
} PyroHeatmap;

/*
 * Y axis: one value range over every point, min to max (max = min + 1 when
 * equal), cut in 20 buckets of (max - min) / 20, bucket i from min +
 * trunc(i * size) (inclusive) to the next bucket's lower bound, the last
 * one up to max inclusive.  X axis: a point at time t goes to the slot
 * whose right edge is the smallest start + k * step >= t, clamped to start
 * below and to the first grid value at or after end above.
 */
extern PyroStatus pyro_heatmap_build(const PyroHeatPoint *points, size_t npoints,
									 uint32_t nseries, int64_t start, int64_t end,
									 int64_t step, PyroHeatmap *out, PyroError *err);
extern void pyro_heatmap_free(PyroHeatmap *h);

#endif							/* PYRO_HEATMAP_H */
