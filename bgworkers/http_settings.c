/* http_settings.c: stub, being written */
#include "http.h"
void
http_handle_settings_get(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_settings_set(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_settings_delete(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
