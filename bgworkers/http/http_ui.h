/*-------------------------------------------------------------------------
 *
 * http_ui.h
 *	  The flame-graph explorer's static files (ui/), compiled into the
 *	  library by scripts/embed-ui.sh: one entry per file, served at
 *	  /ui/<name>.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PYROSCOPE_HTTP_UI_H
#define PYROSCOPE_HTTP_UI_H

#include <stddef.h>

typedef struct PyroUiAsset
{
	const char *path;			/* "/ui/app.js" */
	const char *content_type;
	const unsigned char *data;
	size_t		len;
	const char *etag;			/* quoted, from the file's checksum */
} PyroUiAsset;

extern const PyroUiAsset pyro_ui_assets[];
extern const int pyro_ui_nassets;

#endif							/* PYROSCOPE_HTTP_UI_H */
