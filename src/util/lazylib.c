/*
 * lazylib.c - libcurl and libpq, loaded with dlopen() on first use.
 *
 * Why: with the built-in defaults (no Kubernetes API, no notifiers, no
 * PostgreSQL checks, no silence forwarding) runbookd never makes an
 * outbound HTTP request or a PostgreSQL query, yet linking libcurl and
 * libpq maps them and their dependencies (krb5, GSSAPI, LDAP, SASL,
 * nghttp2, rtmp, ssh2, psl, brotli, zstd, libssl, ...) before main():
 * about 2 MB of an idle daemon's RSS (docs/benchmarks.md, "Memory").
 *
 * How: this file defines the libcurl and libpq functions runbookd calls,
 * with their real prototypes from <curl/curl.h> and <libpq-fe.h>, so the
 * callers stay as they are.  The first call into a library dlopen()s it
 * (RTLD_NOW | RTLD_LOCAL, never closed) and resolves all its functions
 * once (pthread_once); every call forwards through those pointers.  Right
 * after loading libcurl, curl_global_init(CURL_GLOBAL_DEFAULT) is done
 * here, once, so callers need no init of their own.
 *
 * If a library cannot be loaded, one error naming it and dlerror() is
 * logged, and its calls fail the way the real API reports failure:
 * curl_easy_init() and curl_easy_escape() return NULL, curl_easy_perform()
 * and curl_global_init() CURLE_FAILED_INIT, curl_easy_strerror() the load
 * error; PQconnectdbParams() and PQexec() return NULL, PQstatus()
 * CONNECTION_BAD, PQresultStatus() PGRES_FATAL_ERROR, PQerrorMessage() the
 * load error.  Freeing NULL never loads anything.
 *
 * runbookd_core links neither library (CMakeLists.txt), so a libcurl or
 * libpq function that is not defined here fails to link: add it to
 * CURL_FNS or PQ_FNS and define its forwarder below.  A program that also
 * links the real library gets these definitions (the static library comes
 * first on the link line); they forward to that same, already loaded,
 * library.
 */
#define CURL_DISABLE_TYPECHECK /* curl_easy_setopt/getinfo are defined here, not macros */
#include "lazylib.h"
#include "log.h"

#include <curl/curl.h>
#include <dlfcn.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#define CURL_FNS(X)                                                                               \
  X(curl_global_init)                                                                             \
  X(curl_easy_init)                                                                               \
  X(curl_easy_cleanup)                                                                            \
  X(curl_easy_reset)                                                                              \
  X(curl_easy_perform)                                                                            \
  X(curl_easy_setopt)                                                                             \
  X(curl_easy_getinfo)                                                                            \
  X(curl_easy_strerror)                                                                           \
  X(curl_easy_escape)                                                                             \
  X(curl_free)                                                                                    \
  X(curl_slist_append)                                                                            \
  X(curl_slist_free_all)

#define PQ_FNS(X)                                                                                 \
  X(PQconnectdbParams)                                                                            \
  X(PQstatus)                                                                                     \
  X(PQerrorMessage)                                                                               \
  X(PQfinish)                                                                                     \
  X(PQexec)                                                                                       \
  X(PQexecParams)                                                                                 \
  X(PQresultStatus)                                                                               \
  X(PQresultErrorMessage)                                                                         \
  X(PQcmdStatus)                                                                                  \
  X(PQntuples)                                                                                    \
  X(PQnfields)                                                                                    \
  X(PQfname)                                                                                      \
  X(PQgetvalue)                                                                                   \
  X(PQgetisnull)                                                                                  \
  X(PQclear)

/* The real functions, each pointer of its function's own type. */
#define MEMBER(f) __typeof__(f) *f;
static struct {
  CURL_FNS(MEMBER)
} cu;
static struct {
  PQ_FNS(MEMBER)
} pq;
#undef MEMBER

struct lib {
  const char *soname;
  pthread_once_t once;
  atomic_int ok; /* loaded, resolved (and for libcurl, initialised) */
  char err[320]; /* why not, once the load failed */
};

static struct lib libs[] = {
  [LAZYLIB_CURL] = { "libcurl.so.4", PTHREAD_ONCE_INIT, 0, "" },
  [LAZYLIB_PQ] = { "libpq.so.5", PTHREAD_ONCE_INIT, 0, "" },
};

static void
lib_failed(struct lib *l, const char *why)
{
  snprintf(l->err, sizeof(l->err), "%s could not be loaded: %s", l->soname,
           why ? why : "unknown error");
  rblog(LOG_ERROR, "cannot load a client library; the features that need it will fail",
        "library", l->soname, "error", why, NULL);
}

/* Resolves f in handle h into table t, unless a symbol is already missing. */
#define RESOLVE(t, f)                                                                             \
  if (!missing && !(t.f = (__typeof__(t.f))dlsym(h, #f)))                                         \
    missing = #f;
#define RESOLVE_CURL(f) RESOLVE(cu, f)
#define RESOLVE_PQ(f) RESOLVE(pq, f)

static void *
lib_open(struct lib *l)
{
  void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);

  if (!h)
    lib_failed(l, dlerror());
  return h;
}

/* 1 when every symbol resolved (missing is NULL). */
static int
lib_resolved(struct lib *l, const char *missing)
{
  char why[256];

  if (!missing)
    return 1;
  snprintf(why, sizeof(why), "no symbol %s", missing);
  lib_failed(l, why);
  return 0;
}

static void
curl_load(void)
{
  struct lib *l = &libs[LAZYLIB_CURL];
  const char *missing = NULL;
  char why[256];
  CURLcode cc;
  void *h = lib_open(l);

  if (!h)
    return;
  CURL_FNS(RESOLVE_CURL)
  if (!lib_resolved(l, missing))
    return;
  cc = cu.curl_global_init(CURL_GLOBAL_DEFAULT);
  if (cc != CURLE_OK) {
    snprintf(why, sizeof(why), "curl_global_init: %s", cu.curl_easy_strerror(cc));
    lib_failed(l, why);
    return;
  }
  atomic_store(&l->ok, 1);
}

static void
pq_load(void)
{
  struct lib *l = &libs[LAZYLIB_PQ];
  const char *missing = NULL;
  void *h = lib_open(l);

  if (!h)
    return;
  PQ_FNS(RESOLVE_PQ)
  if (!lib_resolved(l, missing))
    return;
  atomic_store(&l->ok, 1);
}

static int
curl_ready(void)
{
  pthread_once(&libs[LAZYLIB_CURL].once, curl_load);
  return atomic_load(&libs[LAZYLIB_CURL].ok);
}

static int
pq_ready(void)
{
  pthread_once(&libs[LAZYLIB_PQ].once, pq_load);
  return atomic_load(&libs[LAZYLIB_PQ].ok);
}

int
lazylib_loaded(enum lazylib_id lib)
{
  return (unsigned)lib < sizeof(libs) / sizeof(libs[0]) && atomic_load(&libs[lib].ok);
}

const char *
lazylib_why(enum lazylib_id lib, const char *otherwise)
{
  if ((unsigned)lib < sizeof(libs) / sizeof(libs[0]) && libs[lib].err[0])
    return libs[lib].err;
  return otherwise;
}

void
lazylib_set_soname(enum lazylib_id lib, const char *soname)
{
  if ((unsigned)lib < sizeof(libs) / sizeof(libs[0]) && soname)
    libs[lib].soname = soname;
}

/* ---- libcurl ------------------------------------------------------------- */

CURLcode
curl_global_init(long flags)
{
  /* Already done once on load; the real call only counts this one. */
  return curl_ready() ? cu.curl_global_init(flags) : CURLE_FAILED_INIT;
}

CURL *
curl_easy_init(void)
{
  return curl_ready() ? cu.curl_easy_init() : NULL;
}

void
curl_easy_cleanup(CURL *e)
{
  if (e && curl_ready())
    cu.curl_easy_cleanup(e);
}

void
curl_easy_reset(CURL *e)
{
  if (e && curl_ready())
    cu.curl_easy_reset(e);
}

CURLcode
curl_easy_perform(CURL *e)
{
  return curl_ready() ? cu.curl_easy_perform(e) : CURLE_FAILED_INIT;
}

typedef void (*any_fn)(void);

/* The one argument is read by its option's type class, as libcurl reads it. */
CURLcode
curl_easy_setopt(CURL *e, CURLoption opt, ...)
{
  va_list ap;
  CURLcode rc;

  if (!curl_ready())
    return CURLE_FAILED_INIT;
  va_start(ap, opt);
  if (opt < CURLOPTTYPE_OBJECTPOINT)
    rc = cu.curl_easy_setopt(e, opt, va_arg(ap, long));
  else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
    rc = cu.curl_easy_setopt(e, opt, va_arg(ap, void *));
  else if (opt < CURLOPTTYPE_OFF_T)
    rc = cu.curl_easy_setopt(e, opt, va_arg(ap, any_fn));
  else if (opt < CURLOPTTYPE_BLOB)
    rc = cu.curl_easy_setopt(e, opt, va_arg(ap, curl_off_t));
  else
    rc = cu.curl_easy_setopt(e, opt, va_arg(ap, void *)); /* struct curl_blob * */
  va_end(ap);
  return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode
curl_easy_getinfo(CURL *e, CURLINFO info, ...)
{
  va_list ap;
  CURLcode rc;

  if (!curl_ready())
    return CURLE_FAILED_INIT;
  va_start(ap, info);
  rc = cu.curl_easy_getinfo(e, info, va_arg(ap, void *));
  va_end(ap);
  return rc;
}

const char *
curl_easy_strerror(CURLcode cc)
{
  return curl_ready() ? cu.curl_easy_strerror(cc) : libs[LAZYLIB_CURL].err;
}

char *
curl_easy_escape(CURL *e, const char *s, int len)
{
  return curl_ready() ? cu.curl_easy_escape(e, s, len) : NULL;
}

void
curl_free(void *p)
{
  if (p && curl_ready())
    cu.curl_free(p);
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
  return curl_ready() ? cu.curl_slist_append(l, s) : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
  if (l && curl_ready())
    cu.curl_slist_free_all(l);
}

/* ---- libpq --------------------------------------------------------------- */

PGconn *
PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
  return pq_ready() ? pq.PQconnectdbParams(keywords, values, expand_dbname) : NULL;
}

ConnStatusType
PQstatus(const PGconn *c)
{
  return pq_ready() ? pq.PQstatus(c) : CONNECTION_BAD;
}

char *
PQerrorMessage(const PGconn *c)
{
  return pq_ready() ? pq.PQerrorMessage(c) : libs[LAZYLIB_PQ].err;
}

void
PQfinish(PGconn *c)
{
  if (c && pq_ready())
    pq.PQfinish(c);
}

PGresult *
PQexec(PGconn *c, const char *query)
{
  return pq_ready() ? pq.PQexec(c, query) : NULL;
}

PGresult *
PQexecParams(PGconn *c, const char *command, int n, const Oid *types, const char *const *values,
             const int *lengths, const int *formats, int result_format)
{
  return pq_ready() ? pq.PQexecParams(c, command, n, types, values, lengths, formats, result_format)
                    : NULL;
}

ExecStatusType
PQresultStatus(const PGresult *r)
{
  return pq_ready() ? pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
}

char *
PQresultErrorMessage(const PGresult *r)
{
  return pq_ready() ? pq.PQresultErrorMessage(r) : libs[LAZYLIB_PQ].err;
}

char *
PQcmdStatus(PGresult *r)
{
  return pq_ready() ? pq.PQcmdStatus(r) : NULL;
}

int
PQntuples(const PGresult *r)
{
  return pq_ready() ? pq.PQntuples(r) : 0;
}

int
PQnfields(const PGresult *r)
{
  return pq_ready() ? pq.PQnfields(r) : 0;
}

char *
PQfname(const PGresult *r, int field)
{
  return pq_ready() ? pq.PQfname(r, field) : NULL;
}

char *
PQgetvalue(const PGresult *r, int row, int field)
{
  return pq_ready() ? pq.PQgetvalue(r, row, field) : NULL;
}

int
PQgetisnull(const PGresult *r, int row, int field)
{
  return pq_ready() ? pq.PQgetisnull(r, row, field) : 1;
}

void
PQclear(PGresult *r)
{
  if (r && pq_ready())
    pq.PQclear(r);
}
