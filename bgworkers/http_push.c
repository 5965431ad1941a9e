/* http_push.c: stub, being written */
#include "http.h"
void
http_handle_push(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
void
http_handle_ingest(HttpRequest *req)
{
	http_handle_unimplemented(req);
}
