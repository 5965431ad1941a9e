/* http_legacy.c: stub, being written */
#include "http.h"
void
http_handle_render(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_render_diff(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_legacy_label_values(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
