/*
 * rb.h - the one status type of runbookd and a few small helpers shared by
 * every module.
 *
 * Every function that can fail returns rb_status.  The classes are kept
 * apart on purpose: RB_EINVAL is the client's (or a file's) fault and maps
 * to a 4xx; RB_EUNAVAIL is transient (the store is busy, full or gone) and
 * maps to 503 so Alertmanager retries; RB_EINTERNAL is our bug.
 */
#ifndef RUNBOOKD_RB_H
#define RUNBOOKD_RB_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  RB_OK = 0,
  RB_EINVAL,    /* bad input: a client's request or a file's content */
  RB_ENOMEM,    /* allocation failed */
  RB_ENOTFOUND, /* no such object */
  RB_ECONFLICT, /* the object's state does not allow the operation */
  RB_ETOOBIG,   /* input over a configured limit */
  RB_EUNAVAIL,  /* transient: store busy, full or unavailable; retry later */
  RB_EIO,       /* I/O error on a file or socket */
  RB_EINTERNAL  /* a bug: an invariant did not hold */
} rb_status;

/* A static English name for a status; never NULL. */
const char *rb_strerror(rb_status st);

#define RB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Grows the array *v (elements of sz bytes, *cap of them) so that it holds
 * element n, doubling it and zeroing the new elements; RB_ENOMEM, *v
 * untouched, when the allocation fails. */
rb_status rb_grow(void **v, size_t *cap, size_t n, size_t sz);

/* Names the calling thread (at most 15 bytes are kept): runbookd's
 * threads are "rb-" and their role in top -H, ps -L and perf. */
void rb_thread_name(const char *name);

/* Fixed-size error message buffer used by validators and parsers. */
#define RB_ERRLEN 256

/* JSON numbers are doubles, and converting a double outside the target
 * type's range is undefined behaviour: these check before they convert. */

/* Whether d is an integer that a long long holds (false for NaN, inf). */
static inline int
rb_double_is_ll(double d)
{
  return d >= -9223372036854775808.0 && d < 9223372036854775808.0
         && d == (double)(long long)d;
}

/* d as an integer clamped to [lo, hi] (truncated); def for NaN. */
static inline long long
rb_double_clamp(double d, long long lo, long long hi, long long def)
{
  if (d != d)
    return def;
  if (d <= (double)lo)
    return lo;
  if (d >= (double)hi)
    return hi;
  return (long long)d;
}

#endif
