/* buf.c - bounded growable buffer; see buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
  memset(b, 0, sizeof(*b));
  b->max = max;
}

static size_t
limit(const struct buf *b)
{
  return b->max ? b->max : SIZE_MAX / 2;
}

static rb_status
reserve(struct buf *b, size_t extra)
{
  size_t need, cap;
  char *p;

  if (extra > limit(b) || b->len > limit(b) - extra)
    return RB_ETOOBIG;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return RB_OK;
  cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  p = realloc(b->data, cap);
  if (!p)
    return RB_ENOMEM;
  b->data = p;
  b->cap = cap;
  return RB_OK;
}

rb_status
buf_append(struct buf *b, const void *p, size_t n)
{
  rb_status rc = reserve(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return RB_OK;
}

rb_status
buf_puts(struct buf *b, const char *s)
{
  return buf_append(b, s, strlen(s));
}

rb_status
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
  va_list cp;
  int n;
  rb_status rc;

  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0)
    return RB_EINTERNAL;
  rc = reserve(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return RB_OK;
}

rb_status
buf_printf(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  rb_status rc;

  va_start(ap, fmt);
  rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

size_t
buf_utf8_seq(const unsigned char *p, size_t avail)
{
  unsigned c, cp;
  size_t n;

  if (!avail)
    return 0;
  c = p[0];
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 1;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 2;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= n; k++) {
    if (k >= avail || (p[k] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[k] & 0x3f);
  }
  /* overlong forms, surrogates and values past U+10FFFF */
  if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
      || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n + 1;
}

rb_status
buf_json_str(struct buf *b, const char *s)
{
  static const char hex[] = "0123456789abcdef";
  rb_status rc = buf_append(b, "\"", 1);
  const unsigned char *p = (const unsigned char *)(s ? s : "");

  for (; !rc && *p; p++) {
    char esc[7];
    const unsigned char *run = p;

    /* Plain ASCII goes in one piece. */
    while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
      p++;
    if (p > run) {
      rc = buf_append(b, run, (size_t)(p - run));
      if (rc || !*p)
        break;
    }
    switch (*p) {
    case '"': rc = buf_append(b, "\\\"", 2); break;
    case '\\': rc = buf_append(b, "\\\\", 2); break;
    case '\n': rc = buf_append(b, "\\n", 2); break;
    case '\r': rc = buf_append(b, "\\r", 2); break;
    case '\t': rc = buf_append(b, "\\t", 2); break;
    default:
      if (*p < 0x20) {
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[*p >> 4];
        esc[5] = hex[*p & 15];
        rc = buf_append(b, esc, 6);
      } else { /* >= 0x80: plain ASCII went with the run above */
        /* The NUL ends a sequence like any other non-continuation byte. */
        size_t n = buf_utf8_seq(p, 4);
        if (n) {
          rc = buf_append(b, p, n);
          p += n - 1;
        } else {
          rc = buf_append(b, "\\ufffd", 6);
        }
      }
    }
  }
  if (!rc)
    rc = buf_append(b, "\"", 1);
  return rc;
}

void
buf_reset(struct buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

char *
buf_steal(struct buf *b)
{
  char *p = b->data;
  if (!p)
    p = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}

void
buf_free(struct buf *b)
{
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
