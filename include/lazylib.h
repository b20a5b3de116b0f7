/*
 * lazylib.h - libcurl and libpq, loaded on first use (src/util/lazylib.c).
 *
 * Callers need nothing from here: they include <curl/curl.h> and
 * <libpq-fe.h> and call the usual functions, which lazylib.c defines and
 * forwards to the library it dlopen()s the first time one is called.
 */
#ifndef RUNBOOKD_LAZYLIB_H
#define RUNBOOKD_LAZYLIB_H

/* Which library a call may have loaded. */
enum lazylib_id { LAZYLIB_CURL = 0, LAZYLIB_PQ };

/* 1 once the library is loaded and usable, 0 before its first use or when
 * loading failed.  Does not load it. */
int lazylib_loaded(enum lazylib_id lib);

/* Why a call into lib failed for want of the library ("libcurl.so.4 could
 * not be loaded: ..."), or otherwise when it was loaded (or never tried).
 * For messages after a failed call such as curl_easy_init() == NULL. */
const char *lazylib_why(enum lazylib_id lib, const char *otherwise);

/* Tests only: load soname instead of libcurl.so.4 / libpq.so.5.  Has an
 * effect only before the library's first use in the process. */
void lazylib_set_soname(enum lazylib_id lib, const char *soname);

#endif
