/*
 * Unit tests for src/util/lazylib.c: libcurl and libpq loaded on first use.
 *
 * The shim is driven for real: a request through libcurl to a one-shot
 * HTTP server on loopback run by the test (a long, a string, an object
 * pointer, a function pointer and a curl_off_t option, getinfo of a long
 * and a double), a PostgreSQL connection to a closed port, and the
 * failure path when a library cannot be loaded (every call fails the way
 * the real API does, and the callers in checks.c report it).  Criterion
 * runs each test in its own process, so each sees the libraries unloaded.
 */
#include "buf.h"
#include "checks.h"
#include "lazylib.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* 1 when /proc/self/maps holds a mapping whose path contains name. */
static int
mapped(const char *name)
{
  FILE *f = fopen("/proc/self/maps", "r");
  char line[1024];
  int found = 0;

  cr_assert_not_null(f);
  while (!found && fgets(line, sizeof(line), f))
    found = strstr(line, name) != NULL;
  fclose(f);
  return found;
}

/* ---- a one-shot HTTP server on 127.0.0.1 --------------------------------- */

struct server {
  int lfd;
  unsigned short port;
  pthread_t thread;
  char request[8192];   /* what arrived: head and body */
  size_t request_len;
};

static const char SERVED_BODY[] = "served through lazylib";

static void *
serve_one(void *arg)
{
  struct server *s = arg;
  struct timeval tv = { 5, 0 };
  char answer[256];
  int fd = accept(s->lfd, NULL, NULL);

  if (fd < 0)
    return NULL;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  /* Read the head, then as many body bytes as Content-Length says. */
  for (;;) {
    char *end, *cl;
    ssize_t n = recv(fd, s->request + s->request_len, sizeof(s->request) - 1 - s->request_len, 0);
    if (n <= 0)
      break;
    s->request_len += (size_t)n;
    s->request[s->request_len] = '\0';
    end = strstr(s->request, "\r\n\r\n");
    if (!end)
      continue;
    cl = strcasestr(s->request, "\r\nContent-Length:");
    if (!cl || cl > end
        || s->request_len >= (size_t)(end + 4 - s->request) + strtoul(cl + 17, NULL, 10))
      break;
  }
  snprintf(answer, sizeof(answer),
           "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n%s",
           strlen(SERVED_BODY), SERVED_BODY);
  (void)!send(fd, answer, strlen(answer), MSG_NOSIGNAL);
  close(fd);
  return NULL;
}

static void
server_start(struct server *s)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof(a);

  memset(s, 0, sizeof(*s));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(s->lfd, 0);
  cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(s->lfd, 1), 0);
  cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  cr_assert_eq(pthread_create(&s->thread, NULL, serve_one, s), 0);
}

static void
server_stop(struct server *s)
{
  pthread_join(s->thread, NULL);
  close(s->lfd);
}

/* A loopback port nothing listens on. */
static unsigned short
closed_port(void)
{
  struct sockaddr_in a = { .sin_family = AF_INET };
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static size_t
collect(char *data, size_t size, size_t n, void *userdata)
{
  struct buf *b = userdata;
  return buf_append(b, data, size * n) == RB_OK ? size * n : 0;
}

/* ---- libcurl ------------------------------------------------------------- */

Test(lazylib, curl_loaded_on_first_use_only)
{
  cr_assert_not(lazylib_loaded(LAZYLIB_CURL));
  cr_assert_not(mapped("libcurl.so"), "libcurl mapped before its first use");
  CURL *e = curl_easy_init();
  cr_assert_not_null(e);
  cr_assert(lazylib_loaded(LAZYLIB_CURL));
  cr_assert(mapped("libcurl.so"));
  cr_assert_not(lazylib_loaded(LAZYLIB_PQ));
  cr_assert_not(mapped("libpq.so"), "libpq mapped along with libcurl");
  curl_easy_cleanup(e);
}

Test(lazylib, curl_request_through_the_shim)
{
  static const char post[] = "hello, and not this tail";
  struct server s;
  struct buf body;
  struct curl_slist *h = NULL;
  char url[64], errbuf[CURL_ERROR_SIZE] = "";
  long code = 0;
  double secs = -1;
  CURL *e;
  CURLcode cc;

  server_start(&s);
  buf_init(&body, 1u << 16);
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/lazy", (unsigned)s.port);
  e = curl_easy_init();
  cr_assert_not_null(e);
  h = curl_slist_append(h, "X-Lazy: yes");
  cr_assert_not_null(h);
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_URL, url), CURLE_OK);              /* string */
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L), CURLE_OK);           /* long */
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_HTTPHEADER, h), CURLE_OK);         /* object */
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf), CURLE_OK);
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_POSTFIELDS, post), CURLE_OK);
  /* Only the first 5 bytes: the off_t must arrive intact for that. */
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)5), CURLE_OK);
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect), CURLE_OK); /* function */
  cr_assert_eq(curl_easy_setopt(e, CURLOPT_WRITEDATA, &body), CURLE_OK);
  cc = curl_easy_perform(e);
  cr_assert_eq(cc, CURLE_OK, "perform: %s (%s)", curl_easy_strerror(cc), errbuf);
  cr_assert_eq(curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code), CURLE_OK);
  cr_assert_eq(code, 201);
  cr_assert_eq(curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &secs), CURLE_OK);
  cr_assert(secs >= 0 && secs < 10);
  cr_assert_eq(body.len, strlen(SERVED_BODY));
  cr_assert_str_eq(body.data, SERVED_BODY);
  curl_slist_free_all(h);
  curl_easy_cleanup(e);
  server_stop(&s);

  cr_assert(strstr(s.request, "POST /lazy HTTP/1.1\r\n") == s.request, "%s", s.request);
  cr_assert_not_null(strstr(s.request, "\r\nX-Lazy: yes\r\n"), "%s", s.request);
  cr_assert_not_null(strstr(s.request, "\r\nContent-Length: 5\r\n"), "%s", s.request);
  cr_assert_str_eq(strstr(s.request, "\r\n\r\n") + 4, "hello");
  buf_free(&body);
}

Test(lazylib, curl_helpers)
{
  char *esc = curl_easy_escape(NULL, "up == 0 & x", 0);
  cr_assert_str_eq(esc, "up%20%3D%3D%200%20%26%20x");
  curl_free(esc);
  cr_assert_str_eq(curl_easy_strerror(CURLE_OK), "No error");
  cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  curl_easy_reset(NULL); /* NULL is ignored, as by libcurl */
}

/* ---- libpq --------------------------------------------------------------- */

Test(lazylib, pq_connect_to_a_closed_port)
{
  const char *keys[] = { "host", "port", "connect_timeout", "dbname", "user", NULL };
  char port[8];
  const char *vals[6];
  PGconn *c;

  cr_assert_not(mapped("libpq.so"), "libpq mapped before its first use");
  snprintf(port, sizeof(port), "%u", (unsigned)closed_port());
  vals[0] = "127.0.0.1";
  vals[1] = port;
  vals[2] = "2";
  vals[3] = "runbookd";
  vals[4] = "runbookd";
  vals[5] = NULL;
  c = PQconnectdbParams(keys, vals, 0);
  cr_assert_not_null(c);
  cr_assert(lazylib_loaded(LAZYLIB_PQ));
  cr_assert(mapped("libpq.so"));
  cr_assert_eq(PQstatus(c), CONNECTION_BAD);
  cr_assert_not_null(PQerrorMessage(c));
  cr_assert_not_null(strstr(PQerrorMessage(c), port), "%s", PQerrorMessage(c));
  PQfinish(c);
}

Test(lazylib, pq_check_reports_a_closed_port)
{
  struct buf d;
  char conninfo[96];

  buf_init(&d, 0);
  snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%u dbname=x user=x",
           (unsigned)closed_port());
  cr_assert_eq(check_postgres(conninfo, "SELECT 1", 0, 10, 2, &d), 0);
  cr_assert_not_null(strstr(d.data, "\"error\":"), "%s", d.data);
  cr_assert_not_null(strstr(d.data, "\"passed\":false"), "%s", d.data);
  buf_free(&d);
}

/* ---- a library that cannot be loaded -------------------------------------- */

Test(lazylib, curl_missing_fails_like_libcurl)
{
  struct buf d;

  lazylib_set_soname(LAZYLIB_CURL, "libcurl-not-here.so.4");
  cr_assert_null(curl_easy_init());
  cr_assert_not(lazylib_loaded(LAZYLIB_CURL));
  cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_FAILED_INIT);
  cr_assert_eq(curl_easy_perform(NULL), CURLE_FAILED_INIT);
  cr_assert_eq(curl_easy_setopt(NULL, CURLOPT_TIMEOUT, 1L), CURLE_FAILED_INIT);
  cr_assert_eq(curl_easy_getinfo(NULL, CURLINFO_RESPONSE_CODE, &(long){ 0 }), CURLE_FAILED_INIT);
  cr_assert_null(curl_slist_append(NULL, "X: y"));
  cr_assert_null(curl_easy_escape(NULL, "a b", 0));
  cr_assert_not_null(strstr(curl_easy_strerror(CURLE_OUT_OF_MEMORY), "libcurl-not-here.so.4"));
  cr_assert_not_null(strstr(lazylib_why(LAZYLIB_CURL, "loaded"), "libcurl-not-here.so.4"));
  cr_assert_str_eq(lazylib_why(LAZYLIB_PQ, "not tried"), "not tried");
  curl_free(NULL);
  curl_slist_free_all(NULL);
  curl_easy_cleanup(NULL);

  /* A caller: the PromQL check reports the load failure, it does not crash. */
  buf_init(&d, 0);
  cr_assert_eq(check_promql("http://127.0.0.1:9", "up", CMP_GT, 0, 1, &d), 0);
  cr_assert_not_null(strstr(d.data, "libcurl-not-here.so.4"), "%s", d.data);
  cr_assert_not_null(strstr(d.data, "\"passed\":false"), "%s", d.data);
  buf_free(&d);
}

Test(lazylib, pq_missing_fails_like_libpq)
{
  const char *keys[] = { "dbname", NULL }, *vals[] = { "x", NULL };
  struct buf d;

  lazylib_set_soname(LAZYLIB_PQ, "libpq-not-here.so.5");
  cr_assert_null(PQconnectdbParams(keys, vals, 0));
  cr_assert_not(lazylib_loaded(LAZYLIB_PQ));
  cr_assert_eq(PQstatus(NULL), CONNECTION_BAD);
  cr_assert_not_null(strstr(PQerrorMessage(NULL), "libpq-not-here.so.5"));
  cr_assert_null(PQexec(NULL, "SELECT 1"));
  cr_assert_null(PQexecParams(NULL, "SELECT 1", 0, NULL, NULL, NULL, NULL, 0));
  cr_assert_eq(PQresultStatus(NULL), PGRES_FATAL_ERROR);
  cr_assert_eq(PQntuples(NULL), 0);
  PQclear(NULL);
  PQfinish(NULL);

  buf_init(&d, 0);
  cr_assert_eq(check_postgres("dbname=x", "SELECT 1", 0, 10, 2, &d), 0);
  cr_assert_not_null(strstr(d.data, "libpq-not-here.so.5"), "%s", d.data);
  buf_free(&d);
}
