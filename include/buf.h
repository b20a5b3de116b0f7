/*
 * buf.h - a growable byte buffer with a hard maximum (like curl's dynbuf).
 *
 * Appending past max fails with RB_ETOOBIG and leaves the buffer as it was,
 * so network input can be accumulated without trusting its size.  The data
 * is always NUL-terminated.  A zeroed struct with max set is a valid empty
 * buffer; buf_free() releases it and accepts NULL.
 */
#ifndef RUNBOOKD_BUF_H
#define RUNBOOKD_BUF_H

#include "rb.h"
#include <stdarg.h>

struct buf {
  char *data;
  size_t len;
  size_t cap;
  size_t max; /* 0 means SIZE_MAX/2 */
};

void buf_init(struct buf *b, size_t max);
rb_status buf_append(struct buf *b, const void *p, size_t n);
rb_status buf_puts(struct buf *b, const char *s);
rb_status buf_printf(struct buf *b, const char *fmt, ...)
  __attribute__((format(printf, 2, 3)));
rb_status buf_vprintf(struct buf *b, const char *fmt, va_list ap)
  __attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal, quotes included. */
rb_status buf_json_str(struct buf *b, const char *s);
void buf_reset(struct buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#endif
