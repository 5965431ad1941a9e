/*-------------------------------------------------------------------------
 *
 * svg.h
 *	  A flame graph (flamebearer layout, single or diff) as a standalone SVG
 *	  document: an icicle, root on top, every frame a rectangle as wide as
 *	  its total with its name where it fits and a <title> for tooltips
 *	  (name, self, total, share; for a diff both sides and the change).
 *	  Readable by any browser or image viewer; no script, no external
 *	  resource.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYRO_SVG_H
#define PYRO_SVG_H

#include "tree.h"

#define PYRO_SVG_WIDTH		1200	/* px, the document */
#define PYRO_SVG_MARGIN		10	/* px, left and right of the frames */

/*
 * Render fg into out.  title (may be NULL) heads the picture; unit (may be
 * NULL) names what the values count.  Each frame's <g> carries its level,
 * start and width in ticks as data-depth, data-x and data-total (and
 * data-self; for a diff data-left and data-right), so tools can read the
 * graph back.
 */
extern void pyro_flamegraph_svg(const PyroFlamegraph *fg, const char *title, const char *unit,
								PyroBuf *out);

#endif							/* PYRO_SVG_H */
