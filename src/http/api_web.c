/*
 * api_web.c - the web page: GET /, /app.css and /app.js, served from the
 * copies of web/index.html, web/app.css and web/app.js embedded in the
 * binary at build time (web/embed.cmake writes generated/web_assets.[ch]).
 *
 * The files need no credentials: they hold no data.  Everything the page
 * shows it fetches from the API with the token the user pastes, so the
 * API's authorization applies unchanged.
 *
 * Each answer carries a strong ETag (SHA-256 of the file), Cache-Control:
 * no-cache (a browser revalidates and gets 304 until the binary changes,
 * so an upgrade never leaves an old script beside a new page), and a
 * Content-Security-Policy allowing only this origin: no inline script or
 * style, no framing, no plugins.
 */
#include "http.h"
#include "web_assets.h"

#include <stdint.h>
#include <string.h>

/* Called by api_index (api_ops.c), which the routes for /, /app.css and
 * /app.js name. */
enum MHD_Result api_web(struct http_req *r);

#define WEB_CSP                                                                                    \
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "                \
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "                   \
  "frame-ancestors 'none'"

static const struct web_asset *
find_asset(const char *url)
{
  for (size_t i = 0; i < web_assets_count; i++)
    if (strcmp(url, web_assets[i].path) == 0)
      return &web_assets[i];
  return NULL;
}

/* 1 when an If-None-Match list names etag (or is "*"). */
static int
etag_matches(const char *inm, const char *etag)
{
  size_t n = strlen(etag);

  if (!inm)
    return 0;
  while (*inm) {
    while (*inm == ' ' || *inm == '\t' || *inm == ',')
      inm++;
    if (*inm == '*')
      return 1;
    if (strncmp(inm, "W/", 2) == 0) /* weak comparison, as RFC 9110 asks */
      inm += 2;
    if (strncmp(inm, etag, n) == 0 && (inm[n] == '\0' || inm[n] == ',' || inm[n] == ' '))
      return 1;
    while (*inm && *inm != ',')
      inm++;
  }
  return 0;
}

static void
add_headers(struct MHD_Response *resp, const struct web_asset *a)
{
  MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, a->etag);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
  MHD_add_response_header(resp, "Content-Security-Policy", WEB_CSP);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
}

enum MHD_Result
api_web(struct http_req *r)
{
  const struct web_asset *a = find_asset(r->url);
  struct MHD_Response *resp;
  enum MHD_Result ret;
  unsigned status = MHD_HTTP_OK;
  const char *inm;

  if (!a)
    return http_reply_error(r, MHD_HTTP_NOT_FOUND, "no such endpoint: %.200s", r->url);
  inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (etag_matches(inm, a->etag)) {
    status = MHD_HTTP_NOT_MODIFIED;
    resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  } else {
    /* The embedded bytes live as long as the process: no copy. */
    resp = MHD_create_response_from_buffer(a->len, (void *)(uintptr_t)a->data,
                                           MHD_RESPMEM_PERSISTENT);
    if (resp)
      MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
  }
  if (!resp)
    return MHD_NO;
  add_headers(resp, a);
  ret = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  r->responded = 1;
  return ret;
}
