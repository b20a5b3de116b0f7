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
/* Appends s as a JSON string literal, quotes included.  Bytes that are not
 * UTF-8 become U+FFFD (as "\ufffd"), so what is written is always valid
 * JSON whatever s came from (a command's output, an API's error text). */
rb_status buf_json_str(struct buf *b, const char *s);
/* The length (1 to 4) of the valid UTF-8 sequence at p, of at most avail
 * bytes, or 0 when p does not start one (a stray continuation byte, an
 * overlong form, a surrogate, a value past U+10FFFF, a cut sequence).
 * Reads no further than the first byte that breaks the sequence. */
size_t buf_utf8_seq(const unsigned char *p, size_t avail);
void buf_reset(struct buf *b);
/* Hands the data to the caller (who frees it) and empties the buffer. */
char *buf_steal(struct buf *b);
void buf_free(struct buf *b);

#endif
