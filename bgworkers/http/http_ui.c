/*-------------------------------------------------------------------------
 *
 * http_ui.c
 *	  GET / and /ui/...: the flame-graph explorer (ui/), a static page that
 *	  talks to this server's public API like any other client.
 *
 * The files are compiled into the library (scripts/embed-ui.sh), so the
 * explorer needs nothing installed beside it and always matches the
 * server that serves it.  They hold no data: they are served without
 * authentication, and the page sends the tenant and credentials the user
 * enters with each API call.
 *
 *-------------------------------------------------------------------------
 */
#include "http.h"

#include "http_ui.h"

/*
 * Everything the page loads comes from this server (no inline script or
 * style, nothing fetched elsewhere); the page may not be framed.
 */
#define UI_CSP "default-src 'none'; script-src 'self'; style-src 'self'; " \
	"img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'none'"

static const PyroUiAsset *
find_asset(const char *path)
{
	for (int i = 0; i < pyro_ui_nassets; i++)
		if (strcmp(pyro_ui_assets[i].path, path) == 0)
			return &pyro_ui_assets[i];
	return NULL;
}

/* Whether an If-None-Match header names etag (or is "*"). */
static bool
etag_matches(const char *header, const char *etag)
{
	size_t		len = strlen(etag);
	const char *p = header;

	if (header == NULL)
		return false;
	while (*p)
	{
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, len) == 0 && (p[len] == '\0' || p[len] == ',' || p[len] == ' '))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

void
http_handle_ui(HttpRequest *req)
{
	const char *path = req->url;
	const PyroUiAsset *asset;

	if (strcmp(path, "/ui") == 0)
	{
		http_set_body(req, 308, "text/plain", "/ui/\n", 5);
		http_add_header(req, "Location", "/ui/");
		return;
	}
	if (strcmp(path, "/") == 0 || strcmp(path, "/ui/") == 0)
		path = "/ui/index.html";
	asset = find_asset(path);
	if (asset == NULL)
	{
		http_error(req, 404, "not_found", "no route for %s %s", req->method, req->url);
		return;
	}
	http_add_header(req, "ETag", asset->etag);
	http_add_header(req, "Cache-Control", "no-cache");
	http_add_header(req, "X-Content-Type-Options", "nosniff");
	if (etag_matches(http_header(req, "If-None-Match"), asset->etag))
	{
		http_set_body(req, 304, NULL, "", 0);
		return;
	}
	http_add_header(req, "Content-Security-Policy", UI_CSP);
	http_set_body(req, 200, asset->content_type, asset->data, asset->len);
}
